using System;
using System.Globalization;
using System.Text;

namespace Omr.Engine
{
    /// <summary>
    /// The one sanitizer for text that comes from a server (banner, replies, headers, exception messages) before
    /// it is stored in a transcript, written into an evidence bundle (transcript.log, report.html, evidence.json)
    /// or put into a notice. Control characters (C0 including CR, LF and TAB, DEL, C1), the line and paragraph
    /// separators, the byte order mark and every bidirectional formatting character (LRE/RLE/PDF/LRO/RLO
    /// U+202A–U+202E, the isolates U+2066–U+2069, LRM/RLM U+200E/U+200F and ALM U+061C) are escaped as
    /// <c>\xNN</c> (below U+0100) or <c>\uNNNN</c>: nothing a server sends can forge a line, a header, or make
    /// text display in a different order than it is stored. The output is one line and bounded.
    /// </summary>
    public static class ServerText
    {
        /// <summary>The default bound, in characters, of one sanitized value.</summary>
        public const int DefaultMaxLength = 1000;

        /// <summary>True for characters that never reach a transcript, bundle or notice as they are.</summary>
        public static bool IsUnsafe(char ch)
            => ch < 0x20 || ch == 0x7f || (ch >= 0x80 && ch < 0xa0)
               || ch == '\u2028' || ch == '\u2029' || ch == '\ufeff'
               || IsBidiControl(ch);

        /// <summary>True when <paramref name="text"/> from <paramref name="start"/> would come out of <see cref="Sanitize"/> unchanged.</summary>
        internal static bool IsSafe(string text, int start, int maxLength = DefaultMaxLength)
        {
            if (text.Length - start > maxLength) return false;
            for (int i = start; i < text.Length; i++) if (IsUnsafe(text[i])) return false;
            return true;
        }

        /// <summary>The bidirectional formatting characters (embeddings, overrides, isolates, marks).</summary>
        public static bool IsBidiControl(char ch)
            => (ch >= '\u202a' && ch <= '\u202e') || (ch >= '\u2066' && ch <= '\u2069') || ch == '\u200e' || ch == '\u200f' || ch == '\u061c';

        /// <summary>
        /// Escapes every unsafe character (see <see cref="IsUnsafe"/>) and bounds the length: beyond
        /// <paramref name="maxLength"/> characters the text is cut and "…[truncated N chars]" appended (N: the input's length).
        /// Idempotent: sanitized text contains no unsafe character.
        /// </summary>
        public static string Sanitize(string? text, int maxLength = DefaultMaxLength)
        {
            if (string.IsNullOrEmpty(text)) return string.Empty;
            if (maxLength < 1) maxLength = 1;
            if (text!.Length <= maxLength)
            {
                // Most server text is already safe: no copy then.
                bool safe = true;
                foreach (var ch in text) if (IsUnsafe(ch)) { safe = false; break; }
                if (safe) return text;
            }
            var sb = new StringBuilder(Math.Min(text!.Length, maxLength) + 16);
            foreach (var ch in text)
            {
                if (sb.Length >= maxLength)
                {
                    sb.Append("…[truncated ").Append(text.Length.ToString(CultureInfo.InvariantCulture)).Append(" chars]");
                    break;
                }
                if (!IsUnsafe(ch)) sb.Append(ch);
                else if (ch < 0x100) sb.Append("\\x").Append(((int)ch).ToString("x2", CultureInfo.InvariantCulture));
                else sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
            }
            return sb.ToString();
        }
    }
}
