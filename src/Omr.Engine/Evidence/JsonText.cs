using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Omr.Engine.Evidence
{
    /// <summary>A small, strict JSON writer (the engine targets netstandard2.0 without System.Text.Json).</summary>
    internal sealed class JsonText
    {
        private readonly StringBuilder _sb = new StringBuilder();
        private readonly Stack<bool> _first = new Stack<bool>();
        private int _depth;
        private readonly bool _serverText;

        /// <param name="serverText">Every string value is server text: pass it through <see cref="ServerText.Sanitize"/> first (evidence.json).</param>
        public JsonText(bool serverText = false) { _serverText = serverText; }

        public JsonText BeginObject(string? name = null) { Prefix(name); _sb.Append('{'); Push(); return this; }
        public JsonText EndObject() { Pop(); _sb.Append('}'); return this; }
        public JsonText BeginArray(string? name = null) { Prefix(name); _sb.Append('['); Push(); return this; }
        public JsonText EndArray() { Pop(); _sb.Append(']'); return this; }

        public JsonText String(string? name, string? value)
        {
            Prefix(name);
            if (value is null) _sb.Append("null"); else Quote(_serverText ? ServerText.Sanitize(value, 100000) : value);
            return this;
        }

        public JsonText Number(string? name, long? value)
        {
            Prefix(name);
            _sb.Append(value is long v ? v.ToString(CultureInfo.InvariantCulture) : "null");
            return this;
        }

        public JsonText Decimal(string? name, double value)
        {
            Prefix(name);
            _sb.Append(value.ToString("0.###", CultureInfo.InvariantCulture));
            return this;
        }

        public JsonText Bool(string? name, bool value) { Prefix(name); _sb.Append(value ? "true" : "false"); return this; }

        public JsonText Date(string? name, DateTimeOffset? value)
            => String(name, value?.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture));

        public JsonText Strings(string name, IEnumerable<string?> values)
        {
            BeginArray(name);
            foreach (var v in values) String(null, v);
            return EndArray();
        }

        public override string ToString() => _sb.ToString();

        private void Push() { _first.Push(true); _depth++; }

        private void Pop()
        {
            var empty = _first.Pop();
            _depth--;
            if (!empty) NewLine();
        }

        private void Prefix(string? name)
        {
            if (_first.Count > 0)
            {
                if (!_first.Peek()) _sb.Append(',');
                _first.Pop(); _first.Push(false);
                NewLine();
            }
            if (name != null) { Quote(name); _sb.Append(": "); }
        }

        private void NewLine() { _sb.Append('\n').Append(' ', _depth * 2); }

        private void Quote(string s)
        {
            _sb.Append('"');
            foreach (var c in s)
            {
                switch (c)
                {
                    case '"': _sb.Append("\\\""); break;
                    case '\\': _sb.Append("\\\\"); break;
                    case '\n': _sb.Append("\\n"); break;
                    case '\r': _sb.Append("\\r"); break;
                    case '\t': _sb.Append("\\t"); break;
                    default:
                        // Control characters, and <>& (safe to embed anywhere), and the JS line separators.
                        if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029' || (c >= 0x7f && c < 0xa0))
                            _sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else _sb.Append(c);
                        break;
                }
            }
            _sb.Append('"');
        }
    }
}
