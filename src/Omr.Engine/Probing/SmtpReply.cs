using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Omr.Engine.Probing
{
    /// <summary>One (possibly multi-line) SMTP reply.</summary>
    public sealed class SmtpReply
    {
        private static readonly Regex Enhanced = new Regex(@"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)", RegexOptions.CultureInvariant);

        public SmtpReply(int code, IReadOnlyList<string> lines)
        {
            Code = code;
            Lines = lines;
            var first = lines.Count > 0 ? lines[0] : string.Empty;
            var m = Enhanced.Match(first);
            if (m.Success && m.Groups[1].Value[0] == (char)('0' + code / 100))
            {
                EnhancedCode = m.Value;
                Text = first.Substring(m.Length).TrimStart();
            }
            else
            {
                Text = first;
            }
        }

        public int Code { get; }
        /// <summary>Text of each line after the code and separator.</summary>
        public IReadOnlyList<string> Lines { get; }
        public string? EnhancedCode { get; }
        /// <summary>Text of the first line without the enhanced status code.</summary>
        public string Text { get; }

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
        Deadline,
        LineTooLong,
        TooManyLines,
        TooMuchData,
        TlsFailed,
        ProtocolViolation,
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
