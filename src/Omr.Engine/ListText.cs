using System.Collections.Generic;

namespace Omr.Engine
{
    /// <summary>One line of a list file that holds an entry: the entry, its trailing comment and its line number.</summary>
    public readonly struct ListLine
    {
        public ListLine(string text, string? comment, int line) { Text = text; Comment = comment; Line = line; }

        public string Text { get; }
        public string? Comment { get; }
        public int Line { get; }
    }

    /// <summary>
    /// The list files the operator writes (-DomainFile as text, -ExcludePath, the shipped hosted list): one entry a
    /// line; '#' starts a comment (a whole line, or the rest of a line after the entry, kept as the entry's note);
    /// blank lines are skipped.
    /// </summary>
    public static class ListText
    {
        public static IReadOnlyList<ListLine> Lines(string? content)
        {
            var list = new List<ListLine>();
            var lines = (content ?? string.Empty).Split('\n');
            for (int i = 0; i < lines.Length; i++)
            {
                var line = lines[i].TrimEnd('\r');
                string? comment = null;
                var hash = line.IndexOf('#');
                if (hash >= 0)
                {
                    comment = line.Substring(hash + 1).Trim();
                    if (comment.Length == 0) comment = null;
                    line = line.Substring(0, hash);
                }
                line = line.Trim();
                if (line.Length > 0) list.Add(new ListLine(line, comment, i + 1));
            }
            return list;
        }
    }
}
