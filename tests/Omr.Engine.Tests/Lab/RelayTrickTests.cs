using System.Net;
using Omr.Engine.Probing;
using Omr.Lab.Smtp;
using Xunit;

namespace Omr.Engine.Tests.LabSelfTests;

/// <summary>
/// The relay-trick table (src/Omr.Lab/Smtp/RelayTricks.cs) that the lab's vuln-* servers and the bench
/// fleet's trick hosts both read: each trick relays its own relay test of Omr's catalogue and no other;
/// each fleet family relays exactly what the fleet's trick hosts relayed before the table was shared.
/// </summary>
public sealed class RelayTrickTests
{
    private static readonly ServerIdentity V4 = new("t", "vuln", "mx.t.omr-lab.test", "t.omr-lab.test", IPAddress.Parse("192.0.2.7"));
    private static readonly ServerIdentity V6 = new("t", "vuln", "mx.t.omr-lab.test", "t.omr-lab.test", IPAddress.Parse("2001:db8::7"));
    private static readonly ServerIdentity FleetHost = new("h00007", "fleet", "mx.h00007.fleet.test", "h00007.fleet.test", IPAddress.Parse("127.77.0.8"));

    /// <summary>Omr's own battery for this server, with the default probe addresses.</summary>
    private static IEnumerable<(string Name, string Mail, string Rcpt)> Catalogue(ServerIdentity s) =>
        RelayTestTemplates.ExpandAll(RelayTestCatalog.All, new ProbeContext(ProbeSettings.DefaultProbeFrom, ProbeSettings.DefaultProbeRecipient, s.LiteralBody, s.HostName, s.Domain))
            .Select(t => (t.Name, t.MailFrom, t.RcptTo));

    /// <summary>nmap's smtp-open-relay tests as the bench runs them (from=omr-probe, to=relay-test, domain=example.net).</summary>
    private static IEnumerable<(string Name, string Mail, string Rcpt)> Nmap(ServerIdentity s)
    {
        string f = "omr-probe", t = "relay-test", d = "example.net", ip = "[" + s.LiteralBody + "]", srv = s.HostName;
        (string, string)[] tests =
        [
            ("", $"{t}@{d}"), ($"{f}@{d}", $"{t}@{d}"), ($"{f}@{srv}", $"{t}@{d}"), ($"{f}@{ip}", $"{t}@{d}"),
            ($"{f}@{ip}", $"{t}%{d}@{ip}"), ($"{f}@{ip}", $"{t}%{d}@{srv}"), ($"{f}@{ip}", $"\"{t}@{d}\""), ($"{f}@{ip}", $"\"{t}%{d}\""),
            ($"{f}@{ip}", $"{t}@{d}@{ip}"), ($"{f}@{ip}", $"\"{t}@{d}\"@{ip}"), ($"{f}@{ip}", $"{t}@{d}@{srv}"), ($"{f}@{ip}", $"@{ip}:{t}@{d}"),
            ($"{f}@{ip}", $"@{srv}:{t}@{d}"), ($"{f}@{ip}", $"{d}!{t}"), ($"{f}@{ip}", $"{d}!{t}@{ip}"), ($"{f}@{ip}", $"{d}!{t}@{srv}"),
        ];
        return tests.Select((x, i) => ("nmap-" + (i + 1), "<" + x.Item1 + ">", "<" + x.Item2 + ">"));
    }

    private static bool Relays(RelayTrick t, ServerIdentity s, string mail, string rcpt) => t.Relays(s, SmtpPath.Parse(mail), SmtpPath.Parse(rcpt));

    private static bool Relays(TrickFamily f, ServerIdentity s, string mail, string rcpt) => f.Relays(s, SmtpPath.Parse(mail), SmtpPath.Parse(rcpt));

    [Fact]
    public void The_table_has_one_trick_per_relay_test_in_catalogue_order()
    {
        Assert.Equal(RelayTestCatalog.Names, RelayTricks.All.Select(t => t.Name));
        Assert.All(RelayTricks.All, t => Assert.False(string.IsNullOrWhiteSpace(t.Description)));
        Assert.Throws<ArgumentException>(() => RelayTricks.Get("no-such-test"));
    }

    public static TheoryData<string> TrickNames() => new(RelayTestCatalog.Names);

    [Theory]
    [MemberData(nameof(TrickNames))]
    public void A_trick_relays_its_own_relay_test_and_no_other(string name)
    {
        var trick = RelayTricks.Get(name);
        foreach (var server in new[] { V4, V6 })
            Assert.Equal([name], Catalogue(server).Where(c => Relays(trick, server, c.Mail, c.Rcpt)).Select(c => c.Name));
    }

    // Where a trick's reading stops: what the buggy server still refuses.
    [Theory]
    [InlineData("foreign-recipient", "<a@example.org>", "<relay-test@example.net>", true)]
    [InlineData("foreign-recipient", "<a@example.org>", "<relay-test@EXAMPLE.NET>", false)]
    [InlineData("foreign-recipient", "<a@t.omr-lab.test>", "<relay-test@example.net>", false)]
    [InlineData("null-sender", "<>", "<relay-test@example.net>", true)]
    [InlineData("null-sender", "<> SIZE=100", "<relay-test@example.net>", true)]
    [InlineData("null-sender", "<>", "<\"relay-test@example.net\">", false)]
    [InlineData("unqualified-sender", "<omr-probe>", "<relay-test@example.net>", true)]
    [InlineData("local-domain-sender", "<postmaster@T.OMR-LAB.TEST>", "<relay-test@example.net>", true)]
    [InlineData("local-domain-sender", "<postmaster@mx.t.omr-lab.test>", "<relay-test@example.net>", false)]
    [InlineData("local-host-sender", "<a@mx.t.omr-lab.test>", "<relay-test@[192.0.2.1]>", false)]
    [InlineData("ip-literal-sender", "<a@[192.0.2.7]>", "<relay-test@example.net>", true)]
    [InlineData("ip-literal-sender", "<a@b@[192.0.2.7]>", "<relay-test@example.net>", false)]
    [InlineData("percent-hack-ip", "<>", "<relay-test%example.net@[192.0.2.7]>", true)]
    [InlineData("percent-hack-ip", "<>", "<relay-test%mx.t.omr-lab.test@[192.0.2.7]>", false)]
    [InlineData("percent-hack-ip", "<>", "<relay-test%example.net@[192.0.2.9]>", false)]
    [InlineData("percent-hack-ip", "<>", "<a%b%example.net@[192.0.2.7]>", false)]
    [InlineData("percent-hack-host", "<>", "<relay-test%example.net@MX.T.OMR-LAB.TEST>", true)]
    [InlineData("percent-hack-host", "<>", "<relay-test%example.net@t.omr-lab.test>", false)]
    [InlineData("percent-hack-domain", "<>", "<relay-test%example.net@t.omr-lab.test>", true)]
    [InlineData("quoted-recipient", "<>", "<\"relay-test@example.net\">", true)]
    [InlineData("quoted-recipient", "<>", "<\"postmaster\">", false)]
    [InlineData("quoted-recipient", "<>", "<\"relay-test@t.omr-lab.test\">", false)]
    [InlineData("quoted-percent", "<>", "<\"relay-test%example.net\">", true)]
    [InlineData("quoted-percent", "<>", "<\"relay-test@example.net\">", false)]
    [InlineData("quoted-at-ip", "<>", "<\"relay-test@example.net\"@[192.0.2.7]>", true)]
    [InlineData("quoted-at-host", "<>", "<\"relay-test@example.net\"@t.omr-lab.test>", false)]
    [InlineData("double-at-ip", "<>", "<relay-test@example.net@[192.0.2.7]>", true)]
    [InlineData("double-at-host", "<>", "<relay-test@example.net@t.omr-lab.test>", false)]
    [InlineData("trailing-at", "<>", "<relay-test@example.net@>", true)]
    [InlineData("trailing-at", "<>", "<relay-test@mx.t.omr-lab.test@>", false)]
    [InlineData("source-route-ip", "<>", "<@[192.0.2.7]:relay-test@example.net>", true)]
    [InlineData("source-route-ip", "<>", "<@[192.0.2.7],@mx.t.omr-lab.test:relay-test@example.net>", false)]
    [InlineData("source-route-host", "<>", "<@example.net:relay-test@example.net>", false)]
    [InlineData("source-route-host", "<>", "<@mx.t.omr-lab.test:relay-test>", false)]
    [InlineData("bang-path", "<>", "<example.net!relay-test>", true)]
    [InlineData("bang-path", "<>", "<mx.t.omr-lab.test!relay-test>", false)]
    [InlineData("bang-path-ip", "<>", "<example.net!relay-test@[192.0.2.7]>", true)]
    [InlineData("bang-path-host", "<>", "<example.net!relay-test@t.omr-lab.test>", false)]
    [InlineData("ipv4-literal-recipient", "<>", "<relay-test@[192.0.2.1]>", true)]
    [InlineData("ipv4-literal-recipient", "<>", "<relay-test@[192.0.2.7]>", false)]
    [InlineData("ipv4-literal-recipient", "<>", "<relay-test@[999.0.2.1]>", false)]
    [InlineData("ipv6-literal-recipient", "<>", "<relay-test@[ipv6:2001:DB8::1]>", true)]
    [InlineData("unbracketed-recipient", "<>", "relay-test@example.net", true)]
    [InlineData("unbracketed-recipient", "<>", "relay-test@t.omr-lab.test", false)]
    [InlineData("uppercase-domain", "<>", "<relay-test@Example.net>", true)]
    [InlineData("uppercase-domain", "<>", "<relay-test@T.OMR-LAB.TEST>", true)]
    [InlineData("uppercase-domain", "<>", "<relay-test@example.net>", false)]
    public void A_trick_reads_the_raw_argument_the_way_its_server_would(string name, string mail, string rcpt, bool relays) =>
        Assert.Equal(relays, Relays(RelayTricks.Get(name), V4, mail, rcpt));

    // What each bench-fleet trick host relays of Omr's battery and of nmap's: pinned as the fleet's own
    // Tricks table answered them before the table was shared (the bench's truth and accuracy rest on it).
    [Theory]
    [InlineData("percent-hack-ip", "percent-hack-ip", "5")]
    [InlineData("percent-hack-host", "percent-hack-host,percent-hack-domain", "6")]
    [InlineData("quoted-recipient", "quoted-recipient,quoted-percent", "7,8")]
    [InlineData("quoted-at", "quoted-at-ip,quoted-at-host", "10")]
    [InlineData("double-at", "double-at-ip,double-at-host", "9,11")]
    [InlineData("source-route", "source-route-ip,source-route-host", "12,13")]
    [InlineData("bang-path", "bang-path,bang-path-ip,bang-path-host", "14,15,16")]
    [InlineData("literal-recipient", "ipv4-literal-recipient,ipv6-literal-recipient", "")]
    [InlineData("unbracketed-recipient", "unbracketed-recipient", "")]
    [InlineData("uppercase-domain", "uppercase-domain", "")]
    [InlineData("null-sender", "null-sender", "1")]
    [InlineData("local-sender", "local-domain-sender,local-host-sender,ip-literal-sender,percent-hack-ip,percent-hack-host,quoted-recipient,quoted-percent,quoted-at-ip,quoted-at-host,double-at-ip,double-at-host,source-route-ip,source-route-host,bang-path,bang-path-ip,bang-path-host", "3,4,5,6,7,8,9,10,11,12,13,14,15,16")]
    public void A_fleet_family_relays_what_its_trick_hosts_relayed(string family, string catalogue, string nmap)
    {
        var f = RelayTricks.Family(family)!;
        Assert.Equal(catalogue.Split(','), Catalogue(FleetHost).Where(c => Relays(f, FleetHost, c.Mail, c.Rcpt)).Select(c => c.Name));
        Assert.Equal(nmap.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(n => "nmap-" + n), Nmap(FleetHost).Where(c => Relays(f, FleetHost, c.Mail, c.Rcpt)).Select(c => c.Name));
    }

    [Fact]
    public void The_fleet_families_keep_their_order_and_name_only_tricks_of_the_table()
    {
        Assert.Equal(
            ["percent-hack-ip", "percent-hack-host", "quoted-recipient", "quoted-at", "double-at", "source-route", "bang-path", "literal-recipient", "unbracketed-recipient", "uppercase-domain", "null-sender", "local-sender"],
            RelayTricks.Families.Select(f => f.Name));
        Assert.All(RelayTricks.Families.SelectMany(f => f.Tricks), t => RelayTricks.Get(t));
        Assert.Same(RelayTricks.Families[11], RelayTricks.Family("LOCAL-SENDER"));
        Assert.Null(RelayTricks.Family("percent-ip"));
    }

    // The fleet's reading of a sender trick: it relays anything for the sender it trusts (the lab's server
    // for that trick only a plain foreign recipient), and nothing more for anyone else.
    [Theory]
    [InlineData("local-sender", "<a@[127.77.0.8]>", "<\"anything at all\">", true)]
    [InlineData("local-sender", "<a@mx.h00007.fleet.test>", "<relay-test@example.net>", true)]
    [InlineData("local-sender", "<a@example.org>", "<relay-test%example.net@[127.77.0.8]>", false)]
    [InlineData("null-sender", "<>", "<@example.net:relay-test@example.net>", true)]
    [InlineData("null-sender", "<a@example.org>", "<relay-test@example.net>", false)]
    [InlineData("source-route", "<a@example.org>", "<@example.net:relay-test@example.net>", false)]
    [InlineData("bang-path", "<a@example.org>", "<example.net!relay-test@h00007.fleet.test>", false)]
    public void A_fleet_family_reads_sender_tricks_as_trust(string family, string mail, string rcpt, bool relays) =>
        Assert.Equal(relays, Relays(RelayTricks.Family(family)!, FleetHost, mail, rcpt));
}
