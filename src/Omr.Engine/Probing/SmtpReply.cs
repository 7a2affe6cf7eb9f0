using System;
using System.Collections.Generic;
using System.Globalization;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// One (possibly multi-line) SMTP reply. It keeps the lines as they were read (code included) and
    /// splits them only when asked: most replies are only ever looked at for their code.
    /// </summary>
    public sealed class SmtpReply
    {
        public SmtpReply(int code, IReadOnlyList<string> lines)
        {
            Code = code;
            _lines = lines;
            var first = lines.Count > 0 ? lines[0] : string.Empty;
            _first = code.ToString("000", CultureInfo.InvariantCulture) + (first.Length > 0 ? " " + first : string.Empty);
        }

        /// <summary>A reply as read: <paramref name="first"/> and <paramref name="more"/> are whole lines ("250-SIZE", "250 OK").</summary>
        internal SmtpReply(int code, string first, List<string>? more)
        {
            Code = code;
            _first = first;
            _more = more;
        }

        /// <summary>The first line as read, code included.</summary>
        private readonly string _first;
        /// <summary>The lines after the first, as read (null for a one-line reply).</summary>
        private readonly List<string>? _more;
        private IReadOnlyList<string>? _lines;
        private Parsed? _parsed;

        /// <summary>The first line split once; published whole, so a reply shared between threads (the reply cache) reads consistently.</summary>
        private sealed class Parsed
        {
            public Parsed(string? enhanced, int textAt) { Enhanced = enhanced; TextAt = textAt; }
            public readonly string? Enhanced;
            /// <summary>Where the text starts in the first line.</summary>
            public readonly int TextAt;
            /// <summary>The text, cut on first use (a benign race between threads cuts equal strings).</summary>
            public string? Text;
            /// <summary>Built on first use (a benign race between threads builds equal strings).</summary>
            public string? Display;
        }

        private Parsed Parse()
        {
            var p = _parsed;
            if (p != null) return p;
            // The text after "ddd " (and after the enhanced code and its white space): one substring.
            string? enhanced = null;
            int start = Math.Min(4, _first.Length);
            int n = EnhancedLength(_first, start);
            if (n > 0 && _first[start] == (char)('0' + Code / 100))
            {
                enhanced = Enhanced(_first, start, n);
                start += n;
                while (start < _first.Length && char.IsWhiteSpace(_first[start])) start++;
            }
            return _parsed = new Parsed(enhanced, start);
        }

        /// <summary>"ddd x.y.z text" (how replies are shown): the line itself when it is already in that form.</summary>
        private string Display()
        {
            var p = Parse();
            var d = p.Display;
            if (d != null) return d;
            d = Code.ToString(CultureInfo.InvariantCulture) + " " + (p.Enhanced is null ? Text : p.Enhanced + " " + Text);
            if (string.Equals(d, _first, StringComparison.Ordinal)) d = _first;
            return p.Display = d;
        }

        /// <summary>The one-digit codes x.y.z (nearly all of them) as shared strings.</summary>
        private static readonly string?[] ShortCodes = new string?[1000];

        private static string Enhanced(string line, int at, int n)
        {
            if (n != 5) return line.Substring(at, n);
            int key = (line[at] - '0') * 100 + (line[at + 2] - '0') * 10 + (line[at + 4] - '0');
            return ShortCodes[key] ??= line.Substring(at, 5);
        }

        /// <summary>Splits the first line and cuts its text now (before the reply is shared between threads, which then share the text too).</summary>
        internal SmtpReply Prepared() { _ = Text; return this; }

        /// <summary>The text after "ddd " or "ddd-".</summary>
        private static string TextOf(string line) => line.Length > 4 ? line.Substring(4) : string.Empty;

        /// <summary>Length of a leading RFC 3463 status code ("5.7.1"), followed by white space or the end; 0 when none.</summary>
        private static int EnhancedLength(string s, int at)
        {
            if (s.Length - at < 5 || (s[at] != '2' && s[at] != '4' && s[at] != '5') || s[at + 1] != '.') return 0;
            int i = at + 2;
            int d = Digits(s, ref i);
            if (d < 1 || d > 3 || i >= s.Length || s[i] != '.') return 0;
            i++;
            d = Digits(s, ref i);
            if (d < 1 || d > 3) return 0;
            return i == s.Length || char.IsWhiteSpace(s[i]) ? i - at : 0;
        }

        private static int Digits(string s, ref int i)
        {
            int start = i;
            while (i < s.Length && s[i] >= '0' && s[i] <= '9') i++;
            return i - start;
        }

        public int Code { get; }

        /// <summary>Text of each line after the code and separator.</summary>
        public IReadOnlyList<string> Lines
        {
            get
            {
                var l = _lines;
                if (l != null) return l;
                var all = new string[1 + (_more?.Count ?? 0)];
                all[0] = TextOf(_first);
                for (int i = 1; i < all.Length; i++) all[i] = TextOf(_more![i - 1]);
                return _lines = all;
            }
        }

        public string? EnhancedCode => Parse().Enhanced;
        /// <summary>Text of the first line without the enhanced status code.</summary>
        public string Text
        {
            get
            {
                var p = Parse();
                return p.Text ??= p.TextAt >= _first.Length ? string.Empty : _first.Substring(p.TextAt);
            }
        }

        /// <summary>The first line as read, code included, and where its text starts in it (no copy).</summary>
        internal string FirstLine => _first;
        internal int TextStart => Parse().TextAt;
        /// <summary>The text when it was already cut (a shared reply), else null.</summary>
        internal string? TextIfCut => Parse().Text;

        public bool IsPositive => Code >= 200 && Code < 400;
        public bool IsTransient => Code >= 400 && Code < 500;
        public bool IsPermanent => Code >= 500 && Code < 600;

        public override string ToString() => Display();
    }

    public enum SmtpFailureKind
    {
        ConnectFailed,
        NoGreeting,
        NotSmtp,
        ConnectionClosed,
        Timeout,
        TooMuchData,
        TlsFailed,
        ProtocolViolation,
        /// <summary>A reply that cannot be tied to the command it should answer (missing, extra or early replies).</summary>
        OutOfStep,
    }

    /// <summary>A session-level failure: the server could not be talked to as the protocol says.</summary>
    public sealed class SmtpSessionException : Exception
    {
        public SmtpSessionException(SmtpFailureKind kind, string message, Exception? inner = null) : base(message, inner)
        {
            Kind = kind;
        }

        public SmtpFailureKind Kind { get; }
    }
}
