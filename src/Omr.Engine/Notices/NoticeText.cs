using System;
using System.Text;

namespace Omr.Engine.Notices
{
    /// <summary>Cleaning of every string that comes from a server (banner, replies, headers) or from input before it goes into a notice.</summary>
    public static class NoticeText
    {
        /// <summary>
        /// The shared server-text sanitizer (<see cref="ServerText.Sanitize"/>): control characters, line/paragraph
        /// separators and bidirectional formatting characters are escaped, the length bounded. The result is one
        /// line: it can go into a header, a template value or a file name part without breaking anything.
        /// </summary>
        public static string Clean(string? text, int max = 2000) => ServerText.Sanitize(text, max);

        /// <summary>Clean, then collapse runs of spaces (for subjects and single-line values).</summary>
        public static string OneLine(string? text, int max = 250)
        {
            // Line breaks and tabs are layout here (a rendered subject, a folded reply): spaces; everything else as ServerText escapes it.
            var c = Clean(string.IsNullOrEmpty(text) ? text : text!.Replace('\r', ' ').Replace('\n', ' ').Replace('\t', ' '), max);
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
