using System;
using System.Text;

namespace Omr.Engine.Notices
{
    /// <summary>Cleaning of every string that comes from a server (banner, replies, headers) or from input before it goes into a notice.</summary>
    public static class NoticeText
    {
        /// <summary>
        /// Replaces control characters (C0 including CR, LF and TAB, DEL, C1), line/paragraph separators
        /// and bidirectional overrides with a space, and bounds the length. The result is one line: it can
        /// go into a header, a template value or a file name part without breaking anything.
        /// </summary>
        public static string Clean(string? text, int max = 2000)
        {
            if (string.IsNullOrEmpty(text)) return string.Empty;
            var sb = new StringBuilder(Math.Min(text!.Length, max) + 16);
            foreach (var ch in text)
            {
                if (sb.Length >= max)
                {
                    sb.Append("…[truncated]");
                    break;
                }
                sb.Append(IsUnsafe(ch) ? ' ' : ch);
            }
            return sb.ToString();
        }

        /// <summary>True for characters that must never reach a header or body line as they are.</summary>
        public static bool IsUnsafe(char ch)
            => ch < 0x20 || ch == 0x7f || (ch >= 0x80 && ch < 0xa0) || ch == '\u2028' || ch == '\u2029'
               || (ch >= '\u202a' && ch <= '\u202e') || (ch >= '\u2066' && ch <= '\u2069') || ch == '\ufeff';

        /// <summary>Clean, then collapse runs of spaces (for subjects and single-line values).</summary>
        public static string OneLine(string? text, int max = 250)
        {
            var c = Clean(text, max);
            var sb = new StringBuilder(c.Length);
            var space = false;
            foreach (var ch in c)
            {
                if (ch == ' ') { if (!space && sb.Length > 0) sb.Append(' '); space = true; }
                else { sb.Append(ch); space = false; }
            }
            return sb.ToString().TrimEnd();
        }

        /// <summary>Normalises a multi-line text (a rendered template) to LF lines, cleaning each line.</summary>
        public static string CleanLines(string text)
        {
            var lines = (text ?? string.Empty).Replace("\r\n", "\n").Replace('\r', '\n').Split('\n');
            for (var i = 0; i < lines.Length; i++) lines[i] = Clean(lines[i], 100000).TrimEnd();
            return string.Join("\n", lines);
        }
    }
}
