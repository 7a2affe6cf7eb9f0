namespace Omr.Lab.Smtp;

internal enum GreetingMode
{
    /// <summary>220 greeting.</summary>
    Normal,
    /// <summary>Accept TCP, then close without a byte.</summary>
    DropOnConnect,
    /// <summary>An HTTP response instead of a greeting, then close.</summary>
    Garbage,
    /// <summary>421 greeting, then close.</summary>
    Busy,
    /// <summary>554 greeting, then 503 to everything but QUIT.</summary>
    RejectSession,
    /// <summary>Accept TCP and never send a byte (input is read and ignored until the client or the lab goes).</summary>
    Silent,
    /// <summary>The greeting is one endless line without CRLF (<see cref="ServerBehaviour.EndlessBytes"/>, then close).</summary>
    EndlessLine,
    /// <summary>A 220 multi-line greeting of <see cref="ServerBehaviour.BannerBytes"/> bytes, then a normal session.</summary>
    HugeBanner,
}

internal enum EhloMode
{
    Normal,
    /// <summary>EHLO → 502 5.5.2 (HELO works).</summary>
    NotRecognized,
    /// <summary>EHLO reply is one endless line without CRLF.</summary>
    EndlessLine,
    /// <summary>EHLO reply is endless 250- continuation lines.</summary>
    EndlessMultiline,
    /// <summary>The first lines of the EHLO reply, then a TCP reset in the middle of the reply.</summary>
    ResetMidReply,
}

internal enum MailMode
{
    Normal,
    /// <summary>Close the connection on MAIL FROM, no reply.</summary>
    DropConnection,
    /// <summary>530 5.7.0 before STARTTLS.</summary>
    RequireTls,
    /// <summary>530 5.7.0 Authentication required (AUTH always fails).</summary>
    RequireAuth,
    /// <summary>MAIL gets no reply; the server goes silent (input read and ignored) until the client or the lab goes.</summary>
    Hang,
    /// <summary>Every MAIL reply is sent twice (one reply too many per transaction).</summary>
    ReplyTwice,
}

internal enum RcptMode
{
    /// <summary>The policy's reply (or the next of <see cref="ServerBehaviour.RawRcptReplies"/>).</summary>
    Normal,
    /// <summary>RCPT gets no reply at all (the session goes on: the next command is answered).</summary>
    NoReply,
}

internal enum RsetMode
{
    Normal,
    /// <summary>502 5.5.2 to every RSET, and the transaction is NOT reset (so the next MAIL gets 503).</summary>
    Refused,
}

internal enum StartTlsMode
{
    /// <summary>A real TLS handshake with <see cref="ServerBehaviour.Certificate"/>.</summary>
    Handshake,
    /// <summary>220, then garbage bytes in answer to the ClientHello, then close.</summary>
    Garbage,
    /// <summary>220, then a TCP reset once the ClientHello arrives.</summary>
    Reset,
}

internal enum CertificateKind
{
    /// <summary>The lab's shared self-signed certificate (issued to starttls-required's host name).</summary>
    Lab,
    /// <summary>A self-signed certificate for the server's own host name that expired yesterday.</summary>
    Expired,
    /// <summary>A valid-dated self-signed certificate for a name that is not the server's.</summary>
    OtherName,
}

/// <summary>How a lab SMTP server behaves at the session level; the relay decisions live in <see cref="Policy"/>.</summary>
internal sealed class ServerBehaviour
{
    public required RelayPolicy Policy { get; init; }
    public GreetingMode Greeting { get; init; } = GreetingMode.Normal;
    /// <summary>Wait this long after the TCP accept before the greeting.</summary>
    public TimeSpan GreetingDelay { get; init; } = TimeSpan.Zero;
    /// <summary>Raw bytes sent as the (normal-mode) greeting instead of "220 host ESMTP ...".</summary>
    public byte[]? RawGreeting { get; init; }
    public EhloMode Ehlo { get; init; } = EhloMode.Normal;
    /// <summary>Extra "250-Xnnnnn" keyword lines in the EHLO reply, before the real keywords.</summary>
    public int EhloExtraLines { get; init; }
    public MailMode Mail { get; init; } = MailMode.Normal;
    public RcptMode Rcpt { get; init; } = RcptMode.Normal;
    /// <summary>Raw replies sent, in turn (cycling per session), to every RCPT instead of the policy's (the recipient is not recorded).</summary>
    public IReadOnlyList<byte[]>? RawRcptReplies { get; init; }
    public RsetMode Rset { get; init; } = RsetMode.Normal;
    /// <summary>At QUIT, first send one "250" for every command that got no reply (so the reply count matches the command count).</summary>
    public bool PadMissingRepliesAtQuit { get; init; }
    /// <summary>EHLO advertises PIPELINING (false: the client must speak one command at a time).</summary>
    public bool OffersPipelining { get; init; } = true;
    /// <summary>
    /// A late extra reply: each RCPT is first answered with a stale copy of the MAIL reply, and its real
    /// reply follows after this delay (so a client that reads one reply per command is out of step).
    /// </summary>
    public TimeSpan StaleReplyBeforeRcpt { get; init; } = TimeSpan.Zero;
    /// <summary>Every protocol error (unknown command, bad sequence, bad syntax) gets "250 2.0.0 Ok" instead.</summary>
    public bool NeverRefuses { get; init; }
    public bool OffersStartTls { get; init; }
    public StartTlsMode StartTls { get; init; } = StartTlsMode.Handshake;
    public CertificateKind Certificate { get; init; } = CertificateKind.Lab;
    public bool OffersAuth { get; init; }
    /// <summary>Accepted DATA is written to the mail drop (false: accept-then-discard).</summary>
    public bool Delivers { get; init; } = true;
    /// <summary>Tarpit: the greeting and every reply trickle out one byte at a time over this long.</summary>
    public TimeSpan ReplyDelay { get; init; } = TimeSpan.Zero;
    /// <summary>Slow drip: the greeting and every reply go out one byte at a time, this long after each byte (wins over <see cref="ReplyDelay"/>).</summary>
    public TimeSpan ByteInterval { get; init; } = TimeSpan.Zero;
    /// <summary>&gt;0: after this many refused RCPTs (and every multiple), reply 421 and close (Postfix smtpd_hard_error_limit).</summary>
    public int HangupAfterRefusedRecipients { get; init; }
    /// <summary>&gt;0: at most this many concurrent connections from one client address; the next gets 421 and is closed.</summary>
    public int MaxConnectionsPerClient { get; init; }
    /// <summary>Bytes written by the endless modes before giving up.</summary>
    public long EndlessBytes { get; init; } = 8L * 1024 * 1024;
    /// <summary>Size of the <see cref="GreetingMode.HugeBanner"/> greeting.</summary>
    public long BannerBytes { get; init; } = 1_100_000;
    /// <summary>Shuts the client out: 550 5.7.1 to EHLO, HELO and MAIL (an address on the server's blocklist).</summary>
    public bool RefuseClient { get; init; }
    /// <summary>
    /// Domains the server receives mail for itself: a message for them is delivered locally (only its own
    /// Received hop). Whatever else it accepts it relays: the next server's hop is written above its own,
    /// as a real relay's message would show.
    /// </summary>
    public IReadOnlyList<string> LocalDomains { get; init; } = [];
}
