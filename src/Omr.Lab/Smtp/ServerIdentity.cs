using System.Net;
using System.Net.Sockets;

namespace Omr.Lab.Smtp;

/// <summary>Who a lab SMTP server is: its names and address; decides what is "local" to it.</summary>
internal sealed class ServerIdentity
{
    public ServerIdentity(string name, string kind, string hostName, string domain, IPAddress address)
    {
        Name = name; Kind = kind; HostName = hostName; Domain = domain; Address = address;
        LiteralBody = address.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6:" + address : address.ToString();
    }

    public string Name { get; }
    public string Kind { get; }
    public string HostName { get; }
    public string Domain { get; }
    public IPAddress Address { get; }
    /// <summary>"127.66.0.5" or "IPv6:::1".</summary>
    public string LiteralBody { get; }

    public bool IsOwnLiteral(string? domain) =>
        SmtpPath.TryParseAddressLiteral(domain, out var ip) && ip!.Equals(Address);

    public bool IsOwnDomain(string? domain, bool caseSensitive = false) =>
        domain is not null && string.Equals(domain, Domain, caseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);

    public bool IsOwnHost(string? domain, bool caseSensitive = false) =>
        domain is not null && string.Equals(domain, HostName, caseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);

    /// <summary>Its Domain, its host name or its own address literal.</summary>
    public bool IsLocal(string? domain, bool caseSensitive = false) =>
        IsOwnDomain(domain, caseSensitive) || IsOwnHost(domain, caseSensitive) || IsOwnLiteral(domain);

    /// <summary>A "local@domain" address (plain syntax, domain name) whose domain is not local.</summary>
    public bool IsForeignAddress(string address, bool caseSensitive = false) =>
        SmtpPath.IsPlainAddress(address, out var d) && !IsLocal(d, caseSensitive);
}

internal enum SenderClass { Invalid, Null, Unqualified, LocalDomain, LocalHost, OwnLiteral, Foreign }

internal static class SenderClassifier
{
    public static SenderClass Classify(ServerIdentity id, SmtpPath? sender)
    {
        if (sender is null || !sender.Balanced) return SenderClass.Invalid;
        if (sender.IsNull) return SenderClass.Null;
        if (sender.Route.Count > 0 || sender.RouteMalformed) return SenderClass.Invalid;
        if (sender.UnquotedAtCount == 0)
            return sender.LocalQuoted || SmtpPath.IsDotAtom(sender.LocalPart) ? SenderClass.Unqualified : SenderClass.Invalid;
        if (!sender.IsWellFormedMailbox) return SenderClass.Invalid;
        if (id.IsOwnDomain(sender.Domain)) return SenderClass.LocalDomain;
        if (id.IsOwnHost(sender.Domain)) return SenderClass.LocalHost;
        if (id.IsOwnLiteral(sender.Domain)) return SenderClass.OwnLiteral;
        return SenderClass.Foreign;
    }
}
