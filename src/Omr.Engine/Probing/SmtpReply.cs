using System;
using System.Collections.Generic;
using System.Globalization;

namespace Omr.Engine.Probing
{
    /// <summary>One (possibly multi-line) SMTP reply.</summary>
    public sealed class SmtpReply
    {
        public SmtpReply(int code, IReadOnlyList<string> lines)
        {
            Code = code;
            Lines = lines;
        }

        private bool _parsed;
        private string? _enhanced;
        private string _text = string.Empty;

        /// <summary>Splits the first line into the enhanced status code and the text, on first use (most replies are never read).</summary>
        private void Parse()
        {
            if (_parsed) return;
            _parsed = true;
            var first = Lines.Count > 0 ? Lines[0] : string.Empty;
            int n = EnhancedLength(first);
            if (n > 0 && first[0] == (char)('0' + Code / 100))
            {
                _enhanced = first.Substring(0, n);
                _text = first.Substring(n).TrimStart();
            }
            else
            {
                _text = first;
            }
        }

        /// <summary>Length of a leading RFC 3463 status code ("5.7.1"), followed by white space or the end; 0 when none.</summary>
        private static int EnhancedLength(string s)
        {
            if (s.Length < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
            int i = 2;
            int d = Digits(s, ref i);
            if (d < 1 || d > 3 || i >= s.Length || s[i] != '.') return 0;
            i++;
            d = Digits(s, ref i);
            if (d < 1 || d > 3) return 0;
            return i == s.Length || char.IsWhiteSpace(s[i]) ? i : 0;
        }

        private static int Digits(string s, ref int i)
        {
            int start = i;
            while (i < s.Length && s[i] >= '0' && s[i] <= '9') i++;
            return i - start;
        }

        public int Code { get; }
        /// <summary>Text of each line after the code and separator.</summary>
        public IReadOnlyList<string> Lines { get; }
        public string? EnhancedCode { get { Parse(); return _enhanced; } }
        /// <summary>Text of the first line without the enhanced status code.</summary>
        public string Text { get { Parse(); return _text; } }

        public bool IsPositive => Code >= 200 && Code < 400;
        public bool IsTransient => Code >= 400 && Code < 500;
        public bool IsPermanent => Code >= 500 && Code < 600;

        public override string ToString()
            => Code.ToString(CultureInfo.InvariantCulture) + " " + (EnhancedCode is null ? Text : EnhancedCode + " " + Text);
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
