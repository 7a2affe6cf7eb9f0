using System.Net;
using Omr.Engine.Probing;
using Omr.Lab.Smtp;
namespace Omr.Fleet;

/// <summary>What a fleet server is.</summary>
internal enum Kind
{
    Open, Closed, Trick, Greylist, Tarpit, Drop, Down,
}

/// <summary>The names a server considers its own (its domain, host name and address literal).</summary>
internal sealed record Identity(string Domain, string Host, string Address)
{
    public string Literal => "[" + Address + "]";

    /// <summary>The same names as the relay-trick table reads them.</summary>
    public ServerIdentity Server { get; } = new(Host, "fleet", Host, Domain, IPAddress.Parse(Address));

    public bool IsLocal(string domain) =>
        domain.Equals(Domain, StringComparison.OrdinalIgnoreCase)
        || domain.Equals(Host, StringComparison.OrdinalIgnoreCase)
        || domain.Equals(Literal, StringComparison.OrdinalIgnoreCase);
}

/// <summary>One server's relay policy.</summary>
internal sealed class Policy
{
    public Policy(Kind kind, TrickFamily? trick) { Kind = kind; Trick = trick; }

    public Kind Kind { get; }
    /// <summary>A trick host's relay tricks (<see cref="RelayTricks.Families"/>).</summary>
    public TrickFamily? Trick { get; }

    /// <summary>A plain user@own-name recipient (what a closed, RFC-correct server delivers locally).</summary>
    public static bool IsLocalPlain(string rcpt, Identity id)
    {
        if (Inner(rcpt) is not { } a) return false;
        int at = a.IndexOf('@');
        if (at <= 0 || at != a.LastIndexOf('@')) return false;
        var local = a[..at];
        if (!local.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or '+')) return false;
        return id.IsLocal(a[(at + 1)..]);
    }

    /// <summary>The address inside angle brackets, or null when the argument is not bracketed.</summary>
    private static string? Inner(string arg)
    {
        var t = arg.Trim();
        int sp = t.IndexOf('>');
        if (t.Length < 2 || t[0] != '<' || sp < 0) return null;
        return t[1..sp];
    }

    /// <summary>True when RCPT TO is accepted after MAIL FROM:<paramref name="from"/> (greylisting aside).</summary>
    public bool Accepts(string from, string rcpt, Identity id)
    {
        if (Kind == Kind.Open) return true;
        if (IsLocalPlain(rcpt, id)) return true;
        return Kind == Kind.Trick && Trick != null && Trick.Relays(id.Server, SmtpPath.Parse(from), SmtpPath.Parse(rcpt));
    }
}

/// <summary>
/// The fleet's truth: which of the relay tests Omr sends (its own catalogue, expanded the way the
/// engine expands it) each server's policy accepts. The policy that answers is the fleet's own.
/// </summary>
internal static class Battery
{
    /// <summary>The names of the tests this policy accepts, in catalogue order.</summary>
    public static string[] Accepted(Policy p, Identity id, string probeFrom, string probeRecipient)
    {
        var ctx = new ProbeContext(probeFrom, probeRecipient, id.Address, id.Host, id.Domain);
        return RelayTestTemplates.ExpandAll(RelayTestCatalog.All, ctx)
            .Where(t => p.Accepts(t.MailFrom, t.RcptTo, id))
            .Select(t => t.Name).ToArray();
    }
}
