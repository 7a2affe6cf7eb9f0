using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;

namespace Omr.Commands
{
    /// <summary>
    /// Turns what arrives on the pipeline into a <see cref="RelayTestResult"/>: a live result, a
    /// deserialized one (Import-Clixml: Deserialized.Omr.RelayTestResult) or a JSON round-tripped
    /// PSCustomObject (enums as numbers or names, dates as strings or DateTime, TimeSpan as an object).
    /// </summary>
    public static class ResultConverter
    {
        /// <summary>Converts, or throws <see cref="InvalidCastException"/> with a message saying why the object is not a result.</summary>
        public static RelayTestResult Convert(object? input)
        {
            if (input is null) throw new InvalidCastException("The input is null, not a relay test result from Test-OpenRelay.");
            var baseObject = input is PSObject pso ? pso.BaseObject : input;
            if (baseObject is RelayTestResult live) return live;
            if (baseObject is RelayEvidence evidence) return evidence.Result;

            var bag = input is IDictionary dict ? new Bag(dict) : new Bag(PSObject.AsPSObject(input));
            // A (deserialized) RelayEvidence carries its result: verify it again.
            if (bag.Get("Verdict") is null && bag.Get("Result") is object inner && !(inner is string))
                return Convert(inner);
            var probeId = Str(bag.Get("ProbeId"));
            if (string.IsNullOrWhiteSpace(probeId))
                throw new InvalidCastException($"The input ({Describe(input)}) is not a relay test result from Test-OpenRelay: it has no ProbeId.");
            var verdictValue = bag.Get("Verdict");
            if (verdictValue is null || !TryEnum<RelayVerdict>(verdictValue, out var verdict))
                throw new InvalidCastException($"The input ({Describe(input)}) is not a relay test result from Test-OpenRelay: its Verdict '{Str(verdictValue)}' is missing or unknown.");

            var r = new RelayTestResult
            {
                ProbeId = probeId!.Trim(),
                Verdict = verdict,
                Target = Str(bag.Get("Target")) ?? string.Empty,
                Domain = Str(bag.Get("Domain")),
                ComputerName = Str(bag.Get("ComputerName")),
                Address = Str(bag.Get("Address")),
                Port = Int(bag.Get("Port")) ?? 0,
                Preference = Int(bag.Get("Preference")),
                Reason = Str(bag.Get("Reason")) ?? string.Empty,
                Banner = Str(bag.Get("Banner")),
                Tls = Str(bag.Get("Tls")) ?? "None",
                RelayedBy = Strings(bag.Get("RelayedBy")),
                Extensions = Strings(bag.Get("Extensions")),
                Connections = Int(bag.Get("Connections")) ?? 0,
                StartTime = Date(bag.Get("StartTime")) ?? default,
                Duration = Span(bag.Get("Duration")) ?? TimeSpan.Zero,
                VerifyAddress = Str(bag.Get("VerifyAddress")),
                VerifiedWith = Str(bag.Get("VerifiedWith")),
                VerificationMessageId = Str(bag.Get("VerificationMessageId")),
                VerificationReply = Str(bag.Get("VerificationReply")),
            };
            var proof = bag.Get("Proof");
            if (proof != null && TryEnum<RelayProof>(proof, out var p)) r.Proof = p;
            r.Tests = Items(bag.Get("Tests")).Select(Outcome).ToArray();
            r.Transcript = Items(bag.Get("Transcript")).Select(Entry).ToArray();
            return r;
        }

        private static RelayTestOutcome Outcome(object item)
        {
            var b = item is IDictionary d ? new Bag(d) : new Bag(PSObject.AsPSObject(item));
            return new RelayTestOutcome
            {
                Name = Str(b.Get("Name")) ?? string.Empty,
                MailFrom = Str(b.Get("MailFrom")) ?? string.Empty,
                RcptTo = Str(b.Get("RcptTo")) ?? string.Empty,
                MailReplyCode = Int(b.Get("MailReplyCode")) ?? 0,
                ReplyCode = Int(b.Get("ReplyCode")) ?? 0,
                EnhancedCode = Str(b.Get("EnhancedCode")),
                Text = Str(b.Get("Text")),
                Stage = Str(b.Get("Stage")),
                Accepted = Bool(b.Get("Accepted")),
                Error = Str(b.Get("Error")),
                Proves = Str(b.Get("Proves")),
            };
        }

        private static TranscriptEntry Entry(object item)
        {
            var unwrapped = item is PSObject p ? p.BaseObject : item;
            if (unwrapped is TranscriptEntry live) return live;
            if (unwrapped is string line) return new TranscriptEntry(default, "*", line);
            var b = item is IDictionary d ? new Bag(d) : new Bag(PSObject.AsPSObject(item));
            return new TranscriptEntry(Date(b.Get("Time")) ?? default, Str(b.Get("Direction")) ?? "*", Str(b.Get("Text")) ?? string.Empty);
        }

        private static string Describe(object input)
        {
            var pso = input as PSObject;
            var type = pso?.TypeNames.FirstOrDefault() ?? input.GetType().FullName ?? "object";
            return type;
        }

        /// <summary>Property access over a PSObject (properties) or a dictionary (keys), case-insensitive.</summary>
        private readonly struct Bag
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

        private static object? Unwrap(object? v) => v is PSObject p && !(p.BaseObject is PSCustomObject) ? p.BaseObject : v;

        private static string? Str(object? v)
        {
            v = Unwrap(v);
            if (v is null) return null;
            if (v is string s) return s;
            if (v is IFormattable f) return f.ToString(null, CultureInfo.InvariantCulture);
            return v.ToString();
        }

        private static int? Int(object? v)
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

        private static bool Bool(object? v)
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

        private static bool TryEnum<T>(object value, out T result) where T : struct
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

        private static DateTimeOffset? Date(object? v)
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

        private static TimeSpan? Span(object? v)
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

        private static string[] Strings(object? v) => Items(v).Select(Str).Where(s => s != null).Select(s => s!).ToArray();

        private static IEnumerable<object> Items(object? v)
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
