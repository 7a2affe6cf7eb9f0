using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Omr.Engine.Rules;

namespace Omr.Engine.Report
{
    /// <summary>The report's small pure figures: the median, the one-line reason, what "shut out" is.</summary>
    public static class ReportFigures
    {
        /// <summary>A short reason is at most this many characters.</summary>
        public const int ShortReasonChars = 120;

        /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count); null for none.</summary>
        public static double? Median(IEnumerable<double> values)
        {
            var sorted = values.OrderBy(v => v).ToList();
            if (sorted.Count == 0) return null;
            var mid = sorted.Count / 2;
            return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }

        /// <summary>
        /// The reason on one line: whitespace runs (line breaks too) become one space, then the first sentence (up to
        /// ". " followed by a capital letter, or the end), at most <see cref="ShortReasonChars"/> characters with "…"
        /// when cut. A period inside a host name or address ("mx.example.net", "192.0.2.1") does not end a sentence.
        /// </summary>
        public static string ShortReason(string? reason)
        {
            if (string.IsNullOrWhiteSpace(reason)) return string.Empty;
            var sb = new StringBuilder(reason!.Length);
            var space = false;
            foreach (var c in reason.Trim())
            {
                if (char.IsWhiteSpace(c) || char.IsControl(c)) { space = true; continue; }
                if (space) sb.Append(' ');
                space = false;
                sb.Append(c);
            }
            var line = sb.ToString();
            for (var i = 0; i + 2 < line.Length; i++)
            {
                if ((line[i] == '.' || line[i] == '!' || line[i] == '?') && line[i + 1] == ' ' && char.IsUpper(line[i + 2]))
                {
                    line = line.Substring(0, i + 1);
                    break;
                }
            }
            return line.Length <= ShortReasonChars ? line : line.Substring(0, ShortReasonChars - 1).TrimEnd() + "…";
        }

        /// <summary>
        /// The server refused this client before any relay test could be judged: ClientRefused, and the codes earlier
        /// versions recorded for it (SessionRefused, ServiceUnavailable). A case shut out is not fixed.
        /// </summary>
        public static bool IsShutOut(RelayReasonCode code)
            => code == RelayReasonCode.ClientRefused || code == RelayReasonCode.SessionRefused || code == RelayReasonCode.ServiceUnavailable;

        /// <summary>
        /// Open cases by software: one group per product and version (names compared without regard to case), the
        /// products with the most cases first (then by name), each product's versions by count (a version not disclosed
        /// last), and Unknown (not recognised, or not recorded) last. None when no case has its software recorded:
        /// a state file of an earlier version has nothing to say.
        /// </summary>
        public static IReadOnlyList<SoftwareGroup> BySoftware(IEnumerable<ReportCase> cases)
        {
            var list = (cases ?? Enumerable.Empty<ReportCase>()).ToList();
            if (!list.Any(c => c.Software != null)) return Array.Empty<SoftwareGroup>();
            var ignoreCase = StringComparer.OrdinalIgnoreCase;
            var known = list.Where(c => c.Software != null && c.Software.IsKnown).Select(c => c.Software!).ToList();
            var groups = known.GroupBy(s => s.Product.Trim(), ignoreCase)
                .OrderByDescending(p => p.Count()).ThenBy(p => p.Key, ignoreCase)
                .SelectMany(p => p.GroupBy(s => string.IsNullOrWhiteSpace(s.Version) ? null : s.Version!.Trim(), ignoreCase)
                    .OrderBy(v => v.Key is null).ThenByDescending(v => v.Count()).ThenBy(v => v.Key, ignoreCase)
                    .Select(v => new SoftwareGroup(p.Key, v.Key, v.Count(), Remediations.For(v.First()))))
                .ToList();
            var unknown = list.Count - known.Count;
            if (unknown > 0) groups.Add(new SoftwareGroup(RelaySoftware.UnknownProduct, null, unknown, Remediations.Other));
            return groups;
        }

        /// <summary>Days between two times, to one decimal's precision when rendered.</summary>
        public static double Days(DateTimeOffset from, DateTimeOffset to) => Math.Max(0, (to - from).TotalDays);
    }
}
