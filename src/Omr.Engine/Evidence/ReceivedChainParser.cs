using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MimeKit;
using MimeKit.Utils;
using Omr.Engine.Probing;

namespace Omr.Engine.Evidence
{
    /// <summary>
    /// Parses "Received:" headers (RFC 5321 section 4.4 and the common dialects of Postfix, Sendmail,
    /// Exim, Exchange, Gmail, Dovecot LMTP) into hops. Tolerant: anything it cannot read stays null.
    /// </summary>
    public static class ReceivedChainParser
    {
        /// <summary>Most hops parsed from one message.</summary>
        public const int MaxHops = 100;
        /// <summary>Longest header value looked at.</summary>
        public const int MaxHeaderLength = 8000;

        private static readonly Regex BracketLiteral = new Regex(@"\[(?:IPv6:)?(?<ip>[0-9A-Fa-f:.]+)\]", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
        private static readonly Regex DottedQuad = new Regex(@"^\d{1,3}(?:\.\d{1,3}){3}$", RegexOptions.CultureInvariant);
        private static readonly Regex HeloInComment = new Regex(@"(?:^|[\s(])(?:helo|ehlo)(?:=|\s+)(?<h>[^\s)\]]+)", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
        private static readonly string[] Keywords = { "from", "by", "via", "with", "id", "for" };

        /// <summary>The Received chain of a message's top-level headers, top (newest) hop first.</summary>
        public static ReceivedHop[] Parse(HeaderList headers)
        {
            if (headers is null) throw new ArgumentNullException(nameof(headers));
            var hops = new List<ReceivedHop>();
            foreach (var h in headers)
            {
                if (h.Id != HeaderId.Received) continue;
                if (hops.Count >= MaxHops) break;
                hops.Add(ParseHop(RawValue(h)));
            }
            return hops.ToArray();
        }

        private static string RawValue(Header h)
        {
            // RawValue keeps the bytes as received (no charset guessing beyond Latin-1/UTF-8).
            return Encoding.UTF8.GetString(h.RawValue);
        }

        /// <summary>Parses one Received header value (folded or not).</summary>
        public static ReceivedHop ParseHop(string value)
        {
            var text = Unfold(value ?? string.Empty);
            if (text.Length > MaxHeaderLength) text = text.Substring(0, MaxHeaderLength);
            var hop = new ReceivedHop { Raw = ServerText.Sanitize(text) };
            var tokens = Tokenize(text, out var lastSemicolon);
            if (lastSemicolon >= 0)
            {
                var date = text.Substring(lastSemicolon + 1).Trim();
                if (date.Length > 0 && DateUtils.TryParse(date, out DateTimeOffset ts)) hop.Timestamp = ts;
            }

            var clauses = new List<Clause>();
            Clause? current = null;
            foreach (var t in tokens)
            {
                if (lastSemicolon >= 0 && t.Start >= lastSemicolon) break;
                if (t.Kind == TokenKind.Word && Keywords.Contains(t.Text, StringComparer.OrdinalIgnoreCase))
                {
                    current = new Clause(t.Text.ToLowerInvariant());
                    clauses.Add(current);
                    continue;
                }
                if (current is null || t.Kind == TokenKind.Semicolon) continue;
                if (t.Kind == TokenKind.Comment) current.Comments.Add(t.Text);
                else current.Words.Add(t.Text);
            }

            var from = clauses.FirstOrDefault(c => c.Key == "from");
            if (from != null) ReadFrom(from, hop);
            var by = clauses.FirstOrDefault(c => c.Key == "by");
            if (by != null)
            {
                var word = by.Words.FirstOrDefault();
                var wordIp = word is null ? null : LiteralIp(word);
                hop.By = wordIp is null ? Clean(TrimDot(word)) : null;
                hop.ByIp = wordIp ?? by.Comments.Select(CommentIp).FirstOrDefault(ip => ip != null);
                if (hop.By is null && wordIp != null) hop.By = wordIp;
            }
            var with = clauses.FirstOrDefault(c => c.Key == "with");
            if (with != null && with.Words.Count > 0) hop.With = Clean(string.Join(" ", with.Words));
            var id = clauses.FirstOrDefault(c => c.Key == "id");
            if (id != null && id.Words.Count > 0) hop.Id = Clean(id.Words[0]);
            var @for = clauses.FirstOrDefault(c => c.Key == "for");
            if (@for != null && @for.Words.Count > 0) hop.For = Clean(@for.Words[0].Trim('<', '>'));
            return hop;
        }

        private static void ReadFrom(Clause from, ReceivedHop hop)
        {
            string? helo = null, rdns = null, ip = null;
            var word = from.Words.FirstOrDefault();
            if (word != null)
            {
                var literal = LiteralIp(word);
                if (literal != null) ip = literal;
                else helo = word;
            }
            foreach (var comment in from.Comments)
            {
                var inner = comment.Length >= 2 ? comment.Substring(1, comment.Length - 2).Trim() : comment;
                var m = HeloInComment.Match(inner);
                if (m.Success) helo = m.Groups["h"].Value;
                ip ??= CommentIp(comment);
                if (rdns is null)
                {
                    // "(mail.example.com [192.0.2.1])", "(mail.example.com. [192.0.2.1])": the verified reverse name.
                    var first = inner.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
                    if (first != null && !first.StartsWith("[", StringComparison.Ordinal) && first.IndexOf('=') < 0
                        && !first.Equals("unknown", StringComparison.OrdinalIgnoreCase)
                        && !first.Equals("helo", StringComparison.OrdinalIgnoreCase) && !first.Equals("ehlo", StringComparison.OrdinalIgnoreCase)
                        && ParseIp(first) is null && LooksLikeHost(first))
                        rdns = TrimDot(first);
                }
            }
            if (helo != null && LiteralIp(helo) is string heloIp) { ip ??= heloIp; }
            hop.Helo = Clean(helo);
            hop.Ip = ip;
            hop.From = Clean(rdns ?? TrimDot(helo) ?? ip);
        }

        private static bool LooksLikeHost(string s)
            => s.Length <= 255 && (s.IndexOf('.') > 0 || s.Equals("localhost", StringComparison.OrdinalIgnoreCase))
               && s.All(c => char.IsLetterOrDigit(c) || c == '.' || c == '-' || c == '_');

        private static string? TrimDot(string? s) => s is null ? null : s.Length > 1 ? s.TrimEnd('.') : s;

        private static string? Clean(string? s) => string.IsNullOrEmpty(s) ? null : ServerText.Sanitize(s!);

        /// <summary>An IP address from a comment: the first bracketed literal, or the whole comment when it is an address.</summary>
        private static string? CommentIp(string comment)
        {
            foreach (Match m in BracketLiteral.Matches(comment))
            {
                var ip = ParseIp(m.Groups["ip"].Value);
                if (ip != null) return ip;
            }
            var inner = comment.Trim('(', ')', ' ', '\t');
            return ParseIp(inner);
        }

        /// <summary>"[192.0.2.1]" or "[IPv6:2001:db8::1]" as an address.</summary>
        private static string? LiteralIp(string word)
        {
            var m = BracketLiteral.Match(word);
            return m.Success && m.Index == 0 ? ParseIp(m.Groups["ip"].Value) : null;
        }

        /// <summary>A strict address parser: dotted-quad IPv4 or IPv6 (optionally "IPv6:"-prefixed); normalised.</summary>
        public static string? ParseIp(string? text)
        {
            if (string.IsNullOrWhiteSpace(text)) return null;
            var s = text!.Trim();
            if (s.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase)) s = s.Substring(5);
            if (s.IndexOf(':') < 0 && !DottedQuad.IsMatch(s)) return null;
            if (!IPAddress.TryParse(s, out var ip)) return null;
            ip = Names.Plain(ip);
            return ip.ToString();
        }

        /// <summary>True when the relay's address appears in the chain: a connecting IP or a by-clause address.</summary>
        public static bool ChainShows(IEnumerable<ReceivedHop> hops, string? address)
        {
            var want = ParseIp(address);
            if (want is null) return false;
            foreach (var h in hops)
            {
                if (string.Equals(h.Ip, want, StringComparison.OrdinalIgnoreCase) || string.Equals(h.ByIp, want, StringComparison.OrdinalIgnoreCase))
                    return true;
            }
            return false;
        }

        /// <summary>
        /// RFC 5322 unfolding (CRLF followed by white space is removed); stray CR/LF and runs of
        /// white space (tabs included) become one space, so the result reads as one line.
        /// </summary>
        public static string Unfold(string value)
        {
            var sb = new StringBuilder(value.Length);
            var space = false;
            foreach (var c in value)
            {
                if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
                {
                    space = true;
                    continue;
                }
                if (space && sb.Length > 0) sb.Append(' ');
                space = false;
                sb.Append(c);
            }
            return sb.ToString();
        }

        private enum TokenKind { Word, Comment, Semicolon }

        private readonly struct Token
        {
            public Token(TokenKind kind, string text, int start) { Kind = kind; Text = text; Start = start; }
            public TokenKind Kind { get; }
            public string Text { get; }
            public int Start { get; }
        }

        private sealed class Clause
        {
            public Clause(string key) { Key = key; }
            public string Key { get; }
            public List<string> Words { get; } = new List<string>();
            public List<string> Comments { get; } = new List<string>();
        }

        private static List<Token> Tokenize(string s, out int lastSemicolon)
        {
            var tokens = new List<Token>();
            lastSemicolon = -1;
            var i = 0;
            while (i < s.Length)
            {
                var c = s[i];
                if (char.IsWhiteSpace(c)) { i++; continue; }
                var start = i;
                if (c == '(')
                {
                    var depth = 0;
                    while (i < s.Length)
                    {
                        var d = s[i];
                        if (d == '\\' && i + 1 < s.Length) { i += 2; continue; }
                        if (d == '(') depth++;
                        else if (d == ')' && --depth == 0) { i++; break; }
                        i++;
                    }
                    tokens.Add(new Token(TokenKind.Comment, s.Substring(start, i - start), start));
                    continue;
                }
                if (c == ';')
                {
                    lastSemicolon = i;
                    tokens.Add(new Token(TokenKind.Semicolon, ";", start));
                    i++;
                    continue;
                }
                if (c == '"')
                {
                    i++;
                    while (i < s.Length && s[i] != '"') { if (s[i] == '\\') i++; i++; }
                    i = Math.Min(i + 1, s.Length);
                    tokens.Add(new Token(TokenKind.Word, s.Substring(start, i - start), start));
                    continue;
                }
                if (c == '<')
                {
                    var close = s.IndexOf('>', i);
                    i = close < 0 ? s.Length : close + 1;
                    tokens.Add(new Token(TokenKind.Word, s.Substring(start, i - start), start));
                    continue;
                }
                while (i < s.Length && !char.IsWhiteSpace(s[i]) && s[i] != '(' && s[i] != ';') i++;
                tokens.Add(new Token(TokenKind.Word, s.Substring(start, i - start), start));
            }
            return tokens;
        }
    }
}
