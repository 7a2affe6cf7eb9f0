using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Omr.Engine.Rules
{
    /// <summary>What the software rule looks at: everything the server said about itself.</summary>
    public sealed class SoftwareFacts
    {
        /// <summary>The greeting's text, without the 220 ("mx.example.com ESMTP Postfix").</summary>
        public string? Banner { get; set; }
        /// <summary>The first line of the EHLO reply, without the 250 ("mx.example.com Hello probe [192.0.2.1]").</summary>
        public string? EhloLine { get; set; }
        /// <summary>The EHLO keywords with their parameters.</summary>
        public IReadOnlyList<string> Extensions { get; set; } = Array.Empty<string>();
        /// <summary>Replies as "code enhanced-code text" ("554 5.7.1 &lt;x@example.net&gt;: Relay access denied").</summary>
        public IReadOnlyList<string> Replies { get; set; } = Array.Empty<string>();
    }

    /// <summary>
    /// The software rule: which product the server's own words point to. One small pure function over
    /// <see cref="SoftwareSignatures"/>, with plain string matching over bounded text (no regular
    /// expressions: hostile text cannot make it slow). A product the greeting or EHLO names wins
    /// (with its version when one follows the name); otherwise the product whose reply wording was
    /// seen most (Inferred); a tie between products, or nothing, is Unknown.
    /// </summary>
    public static class SoftwareRules
    {
        /// <summary>Bounds: each text is looked at up to this many characters, and only so many texts.</summary>
        public const int MaxTextLength = 512, MaxTexts = 64, MaxVersionLength = 32;

        public static RelaySoftware Identify(SoftwareFacts f)
        {
            if (f is null) throw new ArgumentNullException(nameof(f));
            var named = Named(f);
            var inferred = Inferred(f, out var evidence, out var rivals);
            if (named != null)
            {
                if (inferred != null && !Same(inferred, named.Product))
                    named.Evidence += $"; but the replies are worded like {inferred}'s ({evidence}): the greeting may have been changed, or another server answers behind it";
                return named;
            }
            if (inferred != null)
                return new RelaySoftware { Product = inferred, Confidence = SoftwareConfidence.Inferred, Evidence = "not named; the replies are worded like " + inferred + "'s: " + evidence };
            return new RelaySoftware
            {
                Product = RelaySoftware.UnknownProduct,
                Confidence = SoftwareConfidence.Unknown,
                Evidence = rivals.Count > 1 ? "the replies fit several products (" + string.Join(", ", rivals) + ")" : "nothing the server sent names or betrays a known product",
            };
        }

        /// <summary>The rule over a result (its greeting, extensions, the deciding replies and the verification reply).</summary>
        public static RelaySoftware Identify(RelayTestResult r, string? ehloLine = null)
        {
            if (r is null) throw new ArgumentNullException(nameof(r));
            var replies = new List<string>();
            foreach (var t in r.Tests ?? Array.Empty<RelayTestOutcome>())
            {
                if (replies.Count >= MaxTexts) break;
                if (t is null || t.ReplyCode == 0) continue;
                var text = Reply(t.ReplyCode, t.EnhancedCode, t.Text);
                if (!replies.Contains(text)) replies.Add(text);
            }
            if (!string.IsNullOrEmpty(r.VerificationReply)) replies.Add(r.VerificationReply!);
            return Identify(new SoftwareFacts { Banner = r.Banner, EhloLine = ehloLine, Extensions = r.Extensions ?? Array.Empty<string>(), Replies = replies });
        }

        /// <summary>The result's software: as the engine found it, or identified now (a result saved by an older version).</summary>
        public static RelaySoftware Of(RelayTestResult r)
        {
            if (r is null) throw new ArgumentNullException(nameof(r));
            return r.Software ?? Identify(r);
        }

        /// <summary>"554 5.7.1 text": one reply as the signatures see it.</summary>
        public static string Reply(int code, string? enhanced, string? text)
        {
            var sb = new StringBuilder(code.ToString(CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(enhanced)) sb.Append(' ').Append(enhanced);
            if (!string.IsNullOrEmpty(text)) sb.Append(' ').Append(Bound(text));
            return sb.ToString();
        }

        private static RelaySoftware? Named(SoftwareFacts f)
        {
            // The greeting's first word is the host name (RFC 5321 4.3.1): "postfix.example.com ESMTP Exim" is Exim.
            foreach (var text in new[] { AfterHostName(f.Banner), AfterHostName(f.EhloLine) })
            {
                if (text.Length == 0) continue;
                SoftwareSignature? best = null;
                int bestAt = int.MaxValue, bestEnd = 0;
                foreach (var s in SoftwareSignatures.All)
                {
                    if (s.Source != SignatureSource.Name) continue;
                    var at = FindWord(text, s.Text);
                    // The earliest name wins; at one place the first (more specific) row.
                    if (at >= 0 && at < bestAt) { best = s; bestAt = at; bestEnd = at + s.Text.Length; }
                }
                if (best is null) continue;
                var version = VersionAt(text, bestEnd, best.VersionPrefix);
                return new RelaySoftware
                {
                    Product = best.Product,
                    Version = version,
                    Confidence = version is null ? SoftwareConfidence.Product : SoftwareConfidence.Version,
                    Evidence = $"named: '{Excerpt(text, bestAt)}' ({best.RestsOn})",
                };
            }
            return null;
        }

        private static string? Inferred(SoftwareFacts f, out string evidence, out List<string> rivals)
        {
            var hits = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            void Hit(SoftwareSignature s, string seen)
            {
                if (!hits.TryGetValue(s.Product, out var list)) hits[s.Product] = list = new List<string>();
                if (list.Count < 3 && !list.Contains(seen)) list.Add(seen);
            }
            foreach (var e in f.Extensions.Take(MaxTexts))
            {
                var ext = Bound(e).Trim();
                var s = SoftwareSignatures.All.FirstOrDefault(x => x.Source == SignatureSource.Extension && string.Equals(x.Text, ext, StringComparison.OrdinalIgnoreCase));
                if (s != null) Hit(s, "EHLO " + s.Text);
            }
            var texts = f.Replies.Take(MaxTexts).Select(Bound).ToList();
            if (!string.IsNullOrEmpty(f.EhloLine)) texts.Add("250 " + Bound(f.EhloLine!));
            foreach (var text in texts)
            {
                var t = text.Trim();
                var s = SoftwareSignatures.All.FirstOrDefault(x =>
                    (x.Source == SignatureSource.Reply && t.IndexOf(x.Text, StringComparison.OrdinalIgnoreCase) >= 0)
                    || (x.Source == SignatureSource.WholeReply && string.Equals(t, x.Text, StringComparison.Ordinal)));
                if (s != null) Hit(s, "'" + s.Text + "'");
            }
            rivals = hits.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
            evidence = string.Empty;
            if (hits.Count == 0) return null;
            var most = hits.Max(h => h.Value.Count);
            var top = hits.Where(h => h.Value.Count == most).ToList();
            if (top.Count > 1) return null;
            var product = top[0].Key;
            var rows = SoftwareSignatures.All.Where(x => x.Product == product && x.Source != SignatureSource.Name).ToList();
            evidence = string.Join(", ", top[0].Value) + " (" + rows.First(r => top[0].Value.Any(v => v.Contains(r.Text))).RestsOn + ")";
            return product;
        }

        /// <summary>Zimbra runs Postfix: Postfix's replies are no contradiction of a Zimbra greeting.</summary>
        private static bool Same(string inferred, string named)
            => inferred == named || (named == SoftwareSignatures.Zimbra && inferred == SoftwareSignatures.Postfix)
               || (named == SoftwareSignatures.IisSmtp && inferred == SoftwareSignatures.Exchange) || (named == SoftwareSignatures.Exchange && inferred == SoftwareSignatures.IisSmtp);

        private static string Bound(string? s) => s is null ? string.Empty : s.Length <= MaxTextLength ? s : s.Substring(0, MaxTextLength);

        /// <summary>The text after its first word when that word is a host name or an address literal (has a dot, colon or bracket).</summary>
        private static string AfterHostName(string? text)
        {
            var t = Bound(text).Trim();
            var sp = t.IndexOf(' ');
            var first = sp < 0 ? t : t.Substring(0, sp);
            if (first.IndexOfAny(new[] { '.', ':', '[' }) < 0) return t;
            return sp < 0 ? string.Empty : t.Substring(sp + 1);
        }

        /// <summary>The first place where <paramref name="word"/> stands as a word (not inside a name like "mypostfix" or "postfix.example"), or -1.</summary>
        internal static int FindWord(string text, string word)
        {
            for (var at = text.IndexOf(word, StringComparison.OrdinalIgnoreCase); at >= 0; at = text.IndexOf(word, at + 1, StringComparison.OrdinalIgnoreCase))
            {
                var end = at + word.Length;
                var before = at == 0 || !(char.IsLetterOrDigit(text[at - 1]) || text[at - 1] == '.' || text[at - 1] == '-' || text[at - 1] == '@');
                var after = end >= text.Length || !(char.IsLetterOrDigit(text[end]) || text[end] == '-' || text[end] == '@'
                    || (text[end] == '.' && end + 1 < text.Length && char.IsLetterOrDigit(text[end + 1])));
                if (before && after) return at;
            }
            return -1;
        }

        /// <summary>A version right after the name: separators, an optional word ("Release", "v"), then a run that starts with a digit.</summary>
        private static string? VersionAt(string text, int i, string? prefix)
        {
            i = Skip(text, i);
            if (prefix != null && string.Compare(text, i, prefix, 0, prefix.Length, StringComparison.OrdinalIgnoreCase) == 0) i = Skip(text, i + prefix.Length);
            if (i < text.Length && (text[i] == 'v' || text[i] == 'V') && i + 1 < text.Length && char.IsDigit(text[i + 1])) i++;
            if (i >= text.Length || !char.IsDigit(text[i])) return null;
            var start = i;
            while (i < text.Length && i - start < MaxVersionLength && (char.IsLetterOrDigit(text[i]) || text[i] == '.' || text[i] == '_' || text[i] == '-')) i++;
            var v = text.Substring(start, i - start).TrimEnd('.', '-', '_');
            return v.Length == 0 ? null : v;
        }

        private static int Skip(string text, int i)
        {
            while (i < text.Length && (text[i] == ' ' || text[i] == '/' || text[i] == '(' || text[i] == ':' || text[i] == ',')) i++;
            return i;
        }

        private static string Excerpt(string text, int at)
        {
            var start = Math.Max(0, at - 20);
            var s = text.Substring(start, Math.Min(80, text.Length - start)).Trim();
            return (start > 0 ? "..." : string.Empty) + s + (start + 80 < text.Length ? "..." : string.Empty);
        }
    }
}
