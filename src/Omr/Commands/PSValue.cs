using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;

namespace Omr.Commands
{
    /// <summary>
    /// Tolerant reading of values that arrive on the pipeline live, from Import-Clixml
    /// (Deserialized.* property bags) or from ConvertFrom-Json (PSCustomObject, enums as numbers
    /// or names, dates as strings). Shared by the result and evidence converters.
    /// </summary>
    internal static class PSValue
    {
        /// <summary>The properties of a PSObject, or the keys of a dictionary.</summary>
        /// <summary>A hashtable arrives wrapped in a PSObject from the pipeline: its keys are the properties, not the Hashtable's own.</summary>
        public static Bag BagOf(object input) => (input is PSObject p ? p.BaseObject : input) is IDictionary dict ? new Bag(dict) : new Bag(PSObject.AsPSObject(input));

        public static string Describe(object input)
        {
            var pso = input as PSObject;
            var type = pso?.TypeNames.FirstOrDefault() ?? input.GetType().FullName ?? "object";
            return type;
        }

        /// <summary>Property access over a PSObject (properties) or a dictionary (keys), case-insensitive.</summary>
        public readonly struct Bag
        {
            private readonly PSObject? _pso;
            private readonly IDictionary? _dict;
            public Bag(PSObject pso) { _pso = pso; _dict = null; }
            public Bag(IDictionary dict) { _dict = dict; _pso = null; }

            public object? Get(string name)
            {
                if (_dict != null)
                {
                    foreach (DictionaryEntry e in _dict)
                        if (string.Equals(e.Key?.ToString(), name, StringComparison.OrdinalIgnoreCase)) return Unwrap(e.Value);
                    return null;
                }
                var prop = _pso!.Properties[name];
                if (prop is null) return null;
                try { return Unwrap(prop.Value); }
                catch (GetValueException) { return null; }
            }
        }

        public static object? Unwrap(object? v) => v is PSObject p && !(p.BaseObject is PSCustomObject) ? p.BaseObject : v;

        public static string? Str(object? v)
        {
            v = Unwrap(v);
            if (v is null) return null;
            if (v is string s) return s;
            if (v is IFormattable f) return f.ToString(null, CultureInfo.InvariantCulture);
            return v.ToString();
        }

        public static int? Int(object? v)
        {
            v = Unwrap(v);
            switch (v)
            {
                case null: return null;
                case int i: return i;
                case long l when l >= int.MinValue && l <= int.MaxValue: return (int)l;
                case IConvertible c when !(v is string):
                    try { return System.Convert.ToInt32(c, CultureInfo.InvariantCulture); }
                    catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is OverflowException) { return null; }
                default:
                    return int.TryParse(Str(v), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : (int?)null;
            }
        }

        public static bool Bool(object? v)
        {
            v = Unwrap(v);
            return v switch
            {
                bool b => b,
                null => false,
                string s => bool.TryParse(s, out var b2) && b2,
                _ => Int(v) is int n && n != 0,
            };
        }

        public static bool TryEnum<T>(object value, out T result) where T : struct
        {
            var v = value is PSObject p ? p.BaseObject : value;
            result = default;
            if (v is T t) { result = t; return true; }
            var text = v is string s ? s.Trim() : null;
            // Import-Clixml: an enum comes back as its number with the name as ToString(); JSON: a number or a name.
            if (text is null && value is PSObject wrapped && wrapped.TypeNames.Any(n => n.StartsWith("Deserialized.", StringComparison.Ordinal)))
                text = wrapped.ToString();
            if (text != null && text.Length > 0 && !char.IsDigit(text[0]) && text[0] != '-')
            {
                if (Enum.TryParse<T>(text, ignoreCase: true, out var named) && Enum.IsDefined(typeof(T), named)) { result = named; return true; }
                return false;
            }
            var n = Int(text ?? v);
            if (n is int i && Enum.IsDefined(typeof(T), i)) { result = (T)Enum.ToObject(typeof(T), i); return true; }
            return false;
        }

        public static DateTimeOffset? Date(object? v)
        {
            v = Unwrap(v);
            switch (v)
            {
                case null: return null;
                case DateTimeOffset d: return d;
                case DateTime dt: return dt.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)) : new DateTimeOffset(dt);
                case string s:
                    return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) ? parsed : (DateTimeOffset?)null;
                case PSObject p:
                    // A DateTimeOffset deserialized as a property bag (Clixml at depth), or JSON /Date(ms)/ objects.
                    var bag = new Bag(p);
                    if (bag.Get("UtcDateTime") is object utc && Date(utc) is DateTimeOffset u) return u;
                    if (bag.Get("DateTime") is object local && Date(local) is DateTimeOffset l) return l;
                    return Date(p.ToString());
                default:
                    return Date(v.ToString());
            }
        }

        public static TimeSpan? Span(object? v)
        {
            v = Unwrap(v);
            switch (v)
            {
                case null: return null;
                case TimeSpan t: return t;
                case string s: return TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var t2) ? t2 : (TimeSpan?)null;
                case PSObject p:
                    var ticks = new Bag(p).Get("Ticks");
                    if (ticks != null && long.TryParse(Str(ticks), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)) return TimeSpan.FromTicks(n);
                    return Span(p.ToString());
                default:
                    return null;
            }
        }

        public static string[] Strings(object? v) => Items(v).Select(Str).Where(s => s != null).Select(s => s!).ToArray();

        public static IEnumerable<object> Items(object? v)
        {
            v = Unwrap(v);
            if (v is null) yield break;
            if (v is string s) { yield return s; yield break; }
            if (v is IEnumerable e)
            {
                foreach (var o in e) if (o != null) yield return o;
                yield break;
            }
            yield return v;
        }
    }
}
