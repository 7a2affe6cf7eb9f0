using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Text;

namespace Omr.Engine.Notices
{
    /// <summary>A template has a syntax error (the message names the line).</summary>
    public sealed class TemplateException : Exception
    {
        public TemplateException(string message) : base(message) { }
    }

    /// <summary>
    /// Values for a template: names (case-insensitive) → string, number, bool, or a list of nested
    /// models for {{#each}}.
    /// </summary>
    public sealed class TemplateModel : Dictionary<string, object?>
    {
        public TemplateModel() : base(StringComparer.OrdinalIgnoreCase) { }
    }

    /// <summary>
    /// A deliberately tiny template language: <c>{{Name}}</c>, <c>{{#each List}}...{{/each}}</c>,
    /// <c>{{#if Name}}...{{else}}...{{/if}}</c>, <c>{{! comment }}</c>. Nothing else: no expressions,
    /// no helpers, no partials, no raw output. In HTML mode every value is HTML-encoded. A tag alone on
    /// its line (block tags and comments) takes the whole line with it, so text templates stay tidy.
    /// Inside {{#each}}, names resolve against the item first, then the enclosing models.
    /// </summary>
    public sealed class NoticeTemplate
    {
        private readonly List<Node> _nodes;

        private NoticeTemplate(string name, List<Node> nodes) { Name = name; _nodes = nodes; }

        public string Name { get; }

        /// <summary>Parses a template; throws <see cref="TemplateException"/> on unbalanced or unknown tags.</summary>
        public static NoticeTemplate Parse(string text, string name = "template")
        {
            if (text is null) throw new ArgumentNullException(nameof(text));
            var tokens = Tokenize(text.Replace("\r\n", "\n"), name);
            var pos = 0;
            var nodes = ParseBlock(tokens, ref pos, null, name);
            return new NoticeTemplate(name, nodes);
        }

        /// <summary>Renders; names the model does not have render as empty and are added to <paramref name="unknown"/>.</summary>
        public string Render(TemplateModel model, bool html, ICollection<string>? unknown = null)
        {
            var sb = new StringBuilder();
            var scopes = new List<TemplateModel> { model ?? new TemplateModel() };
            RenderNodes(_nodes, scopes, html, sb, unknown);
            return sb.ToString();
        }

        // ---------------------------------------------------------------- tokens

        private enum Kind { Text, Var, Each, If, Else, End, Comment }

        private sealed class Token
        {
            public Kind Kind;
            public string Value = string.Empty;
            public int Line;
        }

        private abstract class Node { }
        private sealed class TextNode : Node { public string Text = string.Empty; }
        private sealed class VarNode : Node { public string Name = string.Empty; }
        private sealed class EachNode : Node { public string Name = string.Empty; public List<Node> Body = new List<Node>(); }
        private sealed class IfNode : Node { public string Name = string.Empty; public List<Node> Then = new List<Node>(); public List<Node> Else = new List<Node>(); }

        private static List<Token> Tokenize(string text, string name)
        {
            var tokens = new List<Token>();
            var i = 0;
            var line = 1;
            var sb = new StringBuilder();
            while (i < text.Length)
            {
                var open = text.IndexOf("{{", i, StringComparison.Ordinal);
                if (open < 0) { sb.Append(text, i, text.Length - i); break; }
                var close = text.IndexOf("}}", open + 2, StringComparison.Ordinal);
                if (close < 0) throw new TemplateException($"{name} line {line + Count(text, i, open)}: '{{{{' without '}}}}'.");
                sb.Append(text, i, open - i);
                line += Count(text, i, open);
                var inner = text.Substring(open + 2, close - open - 2).Trim();
                var tagLine = line;
                line += Count(text, open, close);
                var token = Classify(inner, name, tagLine);
                i = close + 2;

                // Standalone: a block tag or comment alone on its line removes the line's indentation and newline.
                if (token.Kind != Kind.Var)
                {
                    var lineStart = open == 0 ? 0 : text.LastIndexOf('\n', open - 1) + 1;
                    var after = i;
                    while (after < text.Length && (text[after] == ' ' || text[after] == '\t')) after++;
                    var atEnd = after >= text.Length || text[after] == '\n';
                    if (atEnd && IsBlank(text.Substring(lineStart, open - lineStart)))
                    {
                        sb.Length -= open - lineStart;
                        if (after < text.Length) { after++; line++; }
                        i = after;
                    }
                }
                if (sb.Length > 0) { tokens.Add(new Token { Kind = Kind.Text, Value = sb.ToString(), Line = tagLine }); sb.Clear(); }
                if (token.Kind != Kind.Comment) tokens.Add(token);
            }
            if (sb.Length > 0) tokens.Add(new Token { Kind = Kind.Text, Value = sb.ToString(), Line = line });
            return tokens;
        }

        private static int Count(string s, int from, int to)
        {
            var n = 0;
            for (var k = from; k < to && k < s.Length; k++) if (s[k] == '\n') n++;
            return n;
        }

        private static bool IsBlank(string s)
        {
            foreach (var c in s) if (c != ' ' && c != '\t') return false;
            return true;
        }

        private static Token Classify(string inner, string name, int line)
        {
            if (inner.StartsWith("!", StringComparison.Ordinal)) return new Token { Kind = Kind.Comment, Line = line };
            if (inner.StartsWith("#each ", StringComparison.Ordinal)) return new Token { Kind = Kind.Each, Value = Identifier(inner.Substring(6), name, line), Line = line };
            if (inner.StartsWith("#if ", StringComparison.Ordinal)) return new Token { Kind = Kind.If, Value = Identifier(inner.Substring(4), name, line), Line = line };
            if (inner == "else") return new Token { Kind = Kind.Else, Line = line };
            if (inner == "/each" || inner == "/if") return new Token { Kind = Kind.End, Value = inner.Substring(1), Line = line };
            return new Token { Kind = Kind.Var, Value = Identifier(inner, name, line), Line = line };
        }

        private static string Identifier(string s, string name, int line)
        {
            s = s.Trim();
            if (s.Length == 0 || s.Length > 64) throw new TemplateException($"{name} line {line}: '{{{{{s}}}}}' is not a placeholder name.");
            foreach (var c in s)
            {
                if (!(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'))
                    throw new TemplateException($"{name} line {line}: '{{{{{s}}}}}' is not a placeholder (only {{{{Name}}}}, {{{{#each Name}}}}, {{{{#if Name}}}}, {{{{else}}}}, {{{{/each}}}}, {{{{/if}}}} and {{{{! comment}}}}).");
            }
            return s;
        }

        private static List<Node> ParseBlock(List<Token> tokens, ref int pos, Token? opener, string name)
        {
            var nodes = new List<Node>();
            IfNode? pendingIf = opener?.Kind == Kind.If ? new IfNode { Name = opener.Value } : null;
            var target = nodes;
            while (pos < tokens.Count)
            {
                var t = tokens[pos++];
                switch (t.Kind)
                {
                    case Kind.Text:
                        target.Add(new TextNode { Text = t.Value });
                        break;
                    case Kind.Var:
                        target.Add(new VarNode { Name = t.Value });
                        break;
                    case Kind.Each:
                        target.Add(new EachNode { Name = t.Value, Body = ParseBlock(tokens, ref pos, t, name) });
                        break;
                    case Kind.If:
                        var inner = ParseBlock(tokens, ref pos, t, name);
                        target.Add(inner[0]);
                        break;
                    case Kind.Else:
                        if (opener?.Kind != Kind.If || target != nodes)
                            throw new TemplateException($"{name} line {t.Line}: {{{{else}}}} outside {{{{#if}}}}.");
                        target = new List<Node>();
                        pendingIf!.Else = target;
                        break;
                    case Kind.End:
                        var expected = opener?.Kind == Kind.Each ? "each" : opener?.Kind == Kind.If ? "if" : null;
                        if (expected != t.Value)
                            throw new TemplateException($"{name} line {t.Line}: {{{{/{t.Value}}}}} does not close {(opener is null ? "anything" : "{{#" + expected + " " + opener.Value + "}} of line " + opener.Line.ToString(CultureInfo.InvariantCulture))}.");
                        if (pendingIf != null)
                        {
                            pendingIf.Then = nodes;
                            return new List<Node> { pendingIf };
                        }
                        return nodes;
                }
            }
            if (opener != null)
                throw new TemplateException($"{name} line {opener.Line}: {{{{#{(opener.Kind == Kind.Each ? "each" : "if")} {opener.Value}}}}} is never closed.");
            return nodes;
        }

        // ---------------------------------------------------------------- rendering

        private static bool TryResolve(List<TemplateModel> scopes, string name, out object? value)
        {
            for (var k = scopes.Count - 1; k >= 0; k--)
                if (scopes[k].TryGetValue(name, out value)) return true;
            value = null;
            return false;
        }

        private static void RenderNodes(List<Node> nodes, List<TemplateModel> scopes, bool html, StringBuilder sb, ICollection<string>? unknown)
        {
            foreach (var node in nodes)
            {
                switch (node)
                {
                    case TextNode t:
                        sb.Append(t.Text);
                        break;
                    case VarNode v:
                        if (!TryResolve(scopes, v.Name, out var value)) { unknown?.Add(v.Name); break; }
                        var text = Format(value);
                        sb.Append(html ? WebUtility.HtmlEncode(text) : text);
                        break;
                    case EachNode e:
                        if (!TryResolve(scopes, e.Name, out var list)) { unknown?.Add(e.Name); break; }
                        foreach (var item in Items(list))
                        {
                            scopes.Add(item);
                            try { RenderNodes(e.Body, scopes, html, sb, unknown); }
                            finally { scopes.RemoveAt(scopes.Count - 1); }
                        }
                        break;
                    case IfNode i:
                        if (!TryResolve(scopes, i.Name, out var cond)) unknown?.Add(i.Name);
                        RenderNodes(Truthy(cond) ? i.Then : i.Else, scopes, html, sb, unknown);
                        break;
                }
            }
        }

        private static IEnumerable<TemplateModel> Items(object? v)
        {
            switch (v)
            {
                case null: yield break;
                case string _: yield break;
                case TemplateModel m: yield return m; yield break;
                case IEnumerable e:
                    foreach (var o in e)
                    {
                        if (o is TemplateModel tm) yield return tm;
                        else if (o != null) yield return new TemplateModel { ["Value"] = o };
                    }
                    yield break;
            }
        }

        private static bool Truthy(object? v) => v switch
        {
            null => false,
            bool b => b,
            string s => s.Length > 0,
            int n => n != 0,
            long l => l != 0,
            IEnumerable e => e.GetEnumerator().MoveNext(),
            _ => true,
        };

        private static string Format(object? v) => v switch
        {
            null => string.Empty,
            string s => s,
            bool b => b ? "yes" : "no",
            DateTimeOffset d => d.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            IEnumerable e => string.Join(", ", Strings(e)),
            _ => v.ToString() ?? string.Empty,
        };

        private static IEnumerable<string> Strings(IEnumerable e)
        {
            foreach (var o in e) if (o != null) yield return Format(o);
        }
    }
}
