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
}

/// <summary>How a lab SMTP server behaves at the session level; the relay decisions live in <see cref="Policy"/>.</summary>
internal sealed class ServerBehaviour
{
    public required RelayPolicy Policy { get; init; }
    public GreetingMode Greeting { get; init; } = GreetingMode.Normal;
    public EhloMode Ehlo { get; init; } = EhloMode.Normal;
    public MailMode Mail { get; init; } = MailMode.Normal;
    public bool OffersStartTls { get; init; }
    public bool OffersAuth { get; init; }
    /// <summary>Accepted DATA is written to the mail drop (false: accept-then-discard).</summary>
    public bool Delivers { get; init; } = true;
    /// <summary>Tarpit: the greeting and every reply trickle out one byte at a time over this long.</summary>
    public TimeSpan ReplyDelay { get; init; } = TimeSpan.Zero;
    /// <summary>&gt;0: after this many refused RCPTs (and every multiple), reply 421 and close (Postfix smtpd_hard_error_limit).</summary>
    public int HangupAfterRefusedRecipients { get; init; }
    /// <summary>Bytes written by the endless EHLO modes before giving up.</summary>
    public long EndlessBytes { get; init; } = 8L * 1024 * 1024;
}
