namespace Omr.Engine.Rules
{
    /// <summary>
    /// The one wildcard matcher of the engine: * (any run of characters, dots included) and ? (one character),
    /// compared without regard to case — "*.filter.example.net" matches "mx1.filter.example.net", "foreign-*"
    /// matches "foreign-recipient". (The state database's filters are the same patterns in SQL LIKE.)
    /// </summary>
    public static class Wildcard
    {
        public static bool IsMatch(string pattern, string text)
        {
            int p = 0, t = 0, star = -1, mark = 0;
            while (t < text.Length)
            {
                if (p < pattern.Length && (pattern[p] == '?' || char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(text[t]))) { p++; t++; }
                else if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = t; }
                else if (star >= 0) { p = star + 1; t = ++mark; }
                else return false;
            }
            while (p < pattern.Length && pattern[p] == '*') p++;
            return p == pattern.Length;
        }
    }
}
