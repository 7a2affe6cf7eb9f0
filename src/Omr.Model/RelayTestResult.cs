using System;
using System.Collections.Generic;
using System.Linq;

namespace Omr
{
    /// <summary>What one tested address is, judged from its replies.</summary>
    public enum RelayVerdict
    {
        /// <summary>A foreign recipient was accepted by at least one test (not yet proof of delivery).</summary>
        Open,
        /// <summary>Every relay attempt was refused with a permanent (5xx) reply.</summary>
        Closed,
        /// <summary>No decision: temporary replies, TLS/AUTH demanded, dropped connection, deadline.</summary>
        Inconclusive,
        /// <summary>No connection or no greeting.</summary>
        Unreachable,
        /// <summary>The domain publishes a null MX (RFC 7505): it accepts no mail.</summary>
        NoMail,
        /// <summary>
        /// The hidden-server remedy (Test-OpenRelay -StatePath -ProviderMx): the address was open, the
        /// domain's MX now names only the provider's hosts, and the address no longer answers from here
        /// (connection refused or timed out). Counted as remediated.
        /// </summary>
        Hidden,
        /// <summary>
        /// Not tested, by the operator's choice (Test-OpenRelay -Exclude, -ExcludePath, -ExcludeHosted): no
        /// connection was made. The Reason names the entry that excluded it. History treats it as not tested.
        /// </summary>
        Excluded,
    }

    /// <summary>
    /// Why a result has its verdict, for machines: a report can Group-Object ReasonCode. The text
    /// of the same reason is in RelayTestResult.Reason.
    /// </summary>
    public enum RelayReasonCode
    {
        /// <summary>No reason recorded (re-imported data from an older version).</summary>
        None,
        /// <summary>Open: a complete, in-step reply accepted a foreign recipient.</summary>
        RelayAccepted,
        /// <summary>Closed: every relay test was refused with a permanent reply.</summary>
        AllRefused,
        /// <summary>
        /// Recorded by earlier versions for a session refused at the greeting (then Closed) or at EHLO
        /// and HELO (then Inconclusive). A refusal before any RCPT is now <see cref="ClientRefused"/>.
        /// </summary>
        SessionRefused,
        /// <summary>Inconclusive: temporary refusals that look like greylisting.</summary>
        Greylisted,
        /// <summary>Inconclusive: other temporary (4xx) refusals.</summary>
        TemporaryFailure,
        /// <summary>Inconclusive: replies so slow that the deadline passed (tarpit).</summary>
        Tarpit,
        /// <summary>Inconclusive: TLS demanded (-Tls Required or by the server) and not had.</summary>
        TlsRequired,
        /// <summary>Inconclusive: the server requires authentication before it takes mail.</summary>
        AuthRequired,
        /// <summary>Unreachable: the TCP connection was refused.</summary>
        ConnectionRefused,
        /// <summary>Unreachable: no TCP connection within the connect timeout (filtered, down).</summary>
        ConnectTimeout,
        /// <summary>Unreachable: connected, but no SMTP greeting (silence, closed, or not SMTP).</summary>
        NoGreeting,
        /// <summary>Unreachable: the port speaks another protocol.</summary>
        NotSmtp,
        /// <summary>Inconclusive: malformed replies (bad codes, codes changing inside a reply, invalid replies for the command).</summary>
        ProtocolViolation,
        /// <summary>Inconclusive: the server's replies were out of step with the commands (missing or extra replies).</summary>
        OutOfStep,
        /// <summary>Inconclusive: the server sent more than the per-host byte budget.</summary>
        TooMuchData,
        /// <summary>Inconclusive: a command got no reply within the reply timeout (the server went silent).</summary>
        NoReply,
        /// <summary>Inconclusive: the connection was lost before the battery completed.</summary>
        ConnectionLost,
        /// <summary>Inconclusive: the per-host deadline passed.</summary>
        Deadline,
        /// <summary>Inconclusive: the server refused the probe recipient's domain as accepting no mail (RFC 7505).</summary>
        ProbeDomainRefused,
        /// <summary>Recorded by earlier versions for a 4xx greeting that retries did not get past; now <see cref="ClientRefused"/>.</summary>
        ServiceUnavailable,
        /// <summary>NoMail: the domain publishes a null MX (RFC 7505).</summary>
        NullMx,
        /// <summary>Inconclusive: none of the above explains the replies.</summary>
        Unexplained,
        /// <summary>
        /// Inconclusive: the server refused this client before any relay test could be judged — a 5xx
        /// greeting, or a 4xx one until the deadline; 5xx to EHLO and HELO; 5xx to MAIL for every sender,
        /// the null sender too; or every RCPT refused with a reply that names the client, not the
        /// recipient (a blocklist or access rule). No relay policy was seen: never Closed, never a fix.
        /// </summary>
        ClientRefused,
        /// <summary>
        /// Open, but not proven: this server receives mail for the -VerifyAddress domain itself (it is one
        /// of that domain's mail hosts), so no verification message was sent through it — it would be a
        /// local delivery, which proves nothing. The relay tests ran with a recipient foreign to it.
        /// </summary>
        RecipientLocal,
        /// <summary>Excluded: the host name, address or network is one of the operator's -Exclude or -ExcludePath entries.</summary>
        Excluded,
        /// <summary>Excluded: the host is on the shipped list of large hosted mail services (-ExcludeHosted).</summary>
        ExcludedHosted,
    }

    /// <summary>How far a relay was proven.</summary>
    public enum RelayProof
    {
        None,
        RecipientAccepted,
        DataAccepted,
        Delivered,
    }

    /// <summary>A transcript kept compact by the engine until somebody reads it.</summary>
    internal abstract class TranscriptSource
    {
        internal abstract TranscriptEntry[] Materialize();
    }

    /// <summary>One line of an SMTP conversation.</summary>
    public sealed class TranscriptEntry
    {
        public TranscriptEntry() { }

        public TranscriptEntry(DateTimeOffset time, string direction, string text)
        {
            Time = time; Direction = direction; Text = text;
        }

        public DateTimeOffset Time { get; set; }
        /// <summary>"C" for what we sent, "S" for what the server sent, "*" for notes (connect, TLS, errors).</summary>
        public string Direction { get; set; } = "*";
        public string Text { get; set; } = string.Empty;

        public override string ToString() => $"{Time:yyyy-MM-ddTHH:mm:ss.fffK} {Direction}: {Text}";
    }

    /// <summary>The outcome of one relay test on one address.</summary>
    public sealed class RelayTestOutcome
    {
        public string Name { get; set; } = string.Empty;
        /// <summary>Exact argument sent after "MAIL FROM:".</summary>
        public string MailFrom { get; set; } = string.Empty;
        /// <summary>Exact argument sent after "RCPT TO:".</summary>
        public string RcptTo { get; set; } = string.Empty;
        /// <summary>Reply to MAIL FROM.</summary>
        public int MailReplyCode { get; set; }
        /// <summary>The deciding reply code: RCPT's, or MAIL's when MAIL was refused (0 when the test did not complete).</summary>
        public int ReplyCode { get; set; }
        /// <summary>RFC 3463 enhanced status code, when the server gave one.</summary>
        public string? EnhancedCode { get; set; }
        /// <summary>Text of the deciding reply (RCPT, or MAIL when MAIL was refused).</summary>
        public string? Text
        {
            get
            {
                var t = _text;
                if (t != null || _textLine is null) return t;
                // Cut from the reply line only when first read (a benign race builds equal strings).
                return _text = _textLine.Substring(_textAt);
            }
            set { _textLine = null; _text = value; }
        }

        private string? _text;
        private string? _textLine;
        private int _textAt;

        /// <summary>The text is the rest of <paramref name="line"/> from <paramref name="at"/> (already safe): cut when read.</summary>
        internal void TextFrom(string line, int at)
        {
            _text = null;
            _textLine = line;
            _textAt = at;
        }
        /// <summary>Which reply decided the test: "MAIL" when MAIL FROM was refused, else "RCPT".</summary>
        public string? Stage { get; set; }
        /// <summary>True when the foreign recipient was accepted (2xx to both MAIL and RCPT).</summary>
        public bool Accepted { get; set; }
        /// <summary>Set when the test could not be completed (connection lost, deadline).</summary>
        public string? Error { get; set; }
        /// <summary>What an accepted reply would show.</summary>
        public string? Proves { get; set; }

        public override string ToString()
            => $"{Name}: MAIL FROM:{MailFrom} RCPT TO:{RcptTo} -> {(ReplyCode == 0 ? (Error ?? MailReplyCode.ToString(System.Globalization.CultureInfo.InvariantCulture)) : ReplyCode.ToString(System.Globalization.CultureInfo.InvariantCulture))}{(Accepted ? " ACCEPTED" : string.Empty)}";
    }

    /// <summary>The result for one tested address and port.</summary>
    public sealed class RelayTestResult
    {
        /// <summary>What the user passed (domain, host or address).</summary>
        public string Target { get; set; } = string.Empty;
        public string? Domain { get; set; }
        /// <summary>The mail host (MX target, or the host given directly).</summary>
        public string? ComputerName { get; set; }
        public string? Address { get; set; }
        public int Port { get; set; }
        /// <summary>MX preference; null for hosts given directly, and for the implicit MX.</summary>
        public int? Preference { get; set; }
        /// <summary>The domain's MX host names at this test, most preferred first (empty for hosts given directly).</summary>
        public string[] MxHosts { get; set; } = Array.Empty<string>();
        /// <summary>True: the address is one of the domain's MX addresses; false: an earlier address tested again although no MX names it any more; null: a host given directly.</summary>
        public bool? IsMxAddress { get; set; }
        public RelayVerdict Verdict { get; set; }
        /// <summary>Why, for machines (see about_Omr); the text is in Reason.</summary>
        public RelayReasonCode ReasonCode { get; set; }
        public string Reason { get; set; } = string.Empty;
        public string? Banner { get; set; }
        /// <summary>The mail server software its greeting, EHLO and reply texts point to ("Postfix", "Exim 4.96", "Unknown"), with the confidence and evidence.</summary>
        public RelaySoftware? Software
        {
            get
            {
                var s = _software;
                if (s != null || _softwareSource is null) return s;
                // Identified from the replies only when first read (most results are never asked).
                return _software = _softwareSource();
            }
            set { _software = value; _softwareSource = null; }
        }

        private RelaySoftware? _software;
        private Func<RelaySoftware>? _softwareSource;

        /// <summary>The engine's rule over this result's replies, run when <see cref="Software"/> is first read.</summary>
        internal Func<RelaySoftware>? SoftwareSource
        {
            set { _softwareSource = value; _software = null; }
        }
        /// <summary>TLS description: "None", "TLSv1.3 (certificate ok)", "TLSv1.2 (certificate: RemoteCertificateNameMismatch)".</summary>
        public string Tls { get; set; } = "None";
        public string[] RelayedBy { get; set; } = Array.Empty<string>();
        public RelayProof Proof { get; set; }
        public RelayTestOutcome[] Tests { get; set; } = Array.Empty<RelayTestOutcome>();
        public TranscriptEntry[] Transcript
        {
            get
            {
                var t = _transcript;
                if (t != null) return t;
                var source = _transcriptSource;
                t = source?.Materialize() ?? Array.Empty<TranscriptEntry>();
                _transcript = t;
                _transcriptSource = null;
                return t;
            }
            set { _transcript = value ?? Array.Empty<TranscriptEntry>(); _transcriptSource = null; }
        }

        private TranscriptEntry[]? _transcript;
        private TranscriptSource? _transcriptSource;

        /// <summary>The engine's compact transcript, built into entries when <see cref="Transcript"/> is first read.</summary>
        internal TranscriptSource? TranscriptSource
        {
            set { _transcriptSource = value; _transcript = value is null ? Array.Empty<TranscriptEntry>() : null; }
        }
        public DateTimeOffset StartTime { get; set; }
        public TimeSpan Duration { get; set; }
        /// <summary>Unique id of this probe; later the verification token.</summary>
        public string ProbeId { get; set; } = string.Empty;
        /// <summary>The EHLO extensions the server offered (inside TLS when TLS was used).</summary>
        public string[] Extensions { get; set; } = Array.Empty<string>();
        /// <summary>How many connections the battery needed (more than one when the server hung up).</summary>
        public int Connections { get; set; }
        /// <summary>Bytes read from this address over all its connections (bounded by the per-host budget).</summary>
        public long BytesReceived { get; set; }

        /// <summary>The operator's mailbox the verification message was sent to (-Verify).</summary>
        public string? VerifyAddress { get; set; }
        /// <summary>The relay test whose MAIL FROM/RCPT TO carried the verification message.</summary>
        public string? VerifiedWith { get; set; }
        /// <summary>Message-ID of the verification message (carries the ProbeId).</summary>
        public string? VerificationMessageId { get; set; }
        /// <summary>The server's reply to the verification (after the final dot, or the refusal).</summary>
        public string? VerificationReply { get; set; }

        /// <summary>-Blocklist: the DNS blocklists that list this address (empty when none does, or none was asked; a zone that could not be read is a warning, never "not listed").</summary>
        public BlocklistListing[] Listings { get; set; } = Array.Empty<BlocklistListing>();

        /// <summary>With -StatePath: what changed against the last recorded result for this domain, address and port (null without -StatePath).</summary>
        public RelayChange? Change { get; set; }
        /// <summary>With -StatePath: when the open case of this address began (kept on Fixed, Hidden, Unconfirmed and NoLongerReachable results).</summary>
        public DateTimeOffset? OpenSince { get; set; }
        /// <summary>With -StatePath: when the open case was first noticed (Send-RelayNotice -StatePath on the same file).</summary>
        public DateTimeOffset? NoticedAt { get; set; }

        /// <summary>A shallow copy (the same tests and transcript), for a second input that asked the same question.</summary>
        public RelayTestResult Copy()
        {
            _ = Transcript; // both copies share one transcript
            return (RelayTestResult)MemberwiseClone();
        }

        /// <summary>The transcript as text, one line per entry.</summary>
        public string TranscriptText => string.Join(Environment.NewLine, Transcript.Select(t => t.ToString()));

        /// <summary>"mx1.example.com [192.0.2.1]:25 (example.com) Open: ..."; a null-MX domain: "example.com NoMail: ...".</summary>
        public override string ToString()
        {
            var where = Address is null
                ? Domain ?? ComputerName ?? Target
                : $"{ComputerName ?? Address} [{Address}]:{Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}"
                  + (string.IsNullOrEmpty(Domain) || string.Equals(Domain, ComputerName, StringComparison.OrdinalIgnoreCase) ? string.Empty : $" ({Domain})");
            return string.IsNullOrEmpty(Reason) ? $"{where} {Verdict}" : $"{where} {Verdict}: {Reason}";
        }
    }
}
