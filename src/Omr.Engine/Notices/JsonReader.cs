using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Omr.Engine.Notices
{
    /// <summary>
    /// A small strict JSON parser (the engine targets netstandard2.0 without System.Text.Json):
    /// objects → Dictionary&lt;string, object?&gt;, arrays → List&lt;object?&gt;, strings, double, bool, null.
    /// Throws FormatException with the offset on anything malformed, including trailing garbage.
    /// </summary>
    internal sealed class JsonReader
    {
        private const int MaxDepth = 64;
        private readonly string _s;
        private int _i;

        private JsonReader(string s) { _s = s; }

        public static object? Parse(string text)
        {
            var r = new JsonReader(text ?? throw new ArgumentNullException(nameof(text)));
            r.Skip();
            var v = r.Value(0);
            r.Skip();
            if (r._i != r._s.Length) throw r.Error("unexpected text after the JSON value");
            return v;
        }

        private FormatException Error(string what) => new FormatException($"Invalid JSON at offset {_i.ToString(CultureInfo.InvariantCulture)}: {what}.");

        private void Skip()
        {
            while (_i < _s.Length && (_s[_i] == ' ' || _s[_i] == '\t' || _s[_i] == '\r' || _s[_i] == '\n' || _s[_i] == '\ufeff')) _i++;
        }

        private object? Value(int depth)
        {
            if (depth > MaxDepth) throw Error("nested too deeply");
            if (_i >= _s.Length) throw Error("unexpected end");
            switch (_s[_i])
            {
                case '{': return Obj(depth);
                case '[': return Arr(depth);
                case '"': return Str();
                case 't': return Word("true", true);
                case 'f': return Word("false", false);
                case 'n': return Word("null", null);
                default:
                    if (_s[_i] == '-' || char.IsDigit(_s[_i])) return Num();
                    throw Error($"unexpected '{_s[_i]}'");
            }
        }

        private object? Word(string w, object? value)
        {
            if (string.CompareOrdinal(_s, _i, w, 0, w.Length) != 0) throw Error("unknown literal");
            _i += w.Length;
            return value;
        }

        private double Num()
        {
            var start = _i;
            if (_s[_i] == '-') _i++;
            while (_i < _s.Length && (char.IsDigit(_s[_i]) || _s[_i] == '.' || _s[_i] == 'e' || _s[_i] == 'E' || _s[_i] == '+' || _s[_i] == '-')) _i++;
            if (!double.TryParse(_s.Substring(start, _i - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) throw Error("bad number");
            return d;
        }

        private string Str()
        {
            _i++;
            var sb = new StringBuilder();
            while (true)
            {
                if (_i >= _s.Length) throw Error("unterminated string");
                var c = _s[_i++];
                if (c == '"') return sb.ToString();
                if (c < 0x20) throw Error("control character in string");
                if (c != '\\') { sb.Append(c); continue; }
                if (_i >= _s.Length) throw Error("unterminated escape");
                var e = _s[_i++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (_i + 4 > _s.Length || !int.TryParse(_s.Substring(_i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code)) throw Error("bad \\u escape");
                        sb.Append((char)code);
                        _i += 4;
                        break;
                    default: throw Error("bad escape");
                }
            }
        }

        private Dictionary<string, object?> Obj(int depth)
        {
            _i++;
            var d = new Dictionary<string, object?>(StringComparer.Ordinal);
            Skip();
            if (_i < _s.Length && _s[_i] == '}') { _i++; return d; }
            while (true)
            {
                Skip();
                if (_i >= _s.Length || _s[_i] != '"') throw Error("expected a property name");
                var k = Str();
                Skip();
                if (_i >= _s.Length || _s[_i] != ':') throw Error("expected ':'");
                _i++;
                Skip();
                d[k] = Value(depth + 1);
                Skip();
                if (_i >= _s.Length) throw Error("unterminated object");
                if (_s[_i] == ',') { _i++; continue; }
                if (_s[_i] == '}') { _i++; return d; }
                throw Error("expected ',' or '}'");
            }
        }

        private List<object?> Arr(int depth)
        {
            _i++;
            var l = new List<object?>();
            Skip();
            if (_i < _s.Length && _s[_i] == ']') { _i++; return l; }
            while (true)
            {
                Skip();
                l.Add(Value(depth + 1));
                Skip();
                if (_i >= _s.Length) throw Error("unterminated array");
                if (_s[_i] == ',') { _i++; continue; }
                if (_s[_i] == ']') { _i++; return l; }
                throw Error("expected ',' or ']'");
            }
        }
    }
}
