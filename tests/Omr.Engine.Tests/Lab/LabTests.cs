using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Omr.Lab;
using Xunit;
using LabHost = Omr.Lab.Lab;
using ArDnsClient = ARSoft.Tools.Net.Dns.DnsClient;

namespace Omr.Engine.Tests.LabSelfTests;

public sealed class LabSelfTestFixture : IAsyncLifetime
{
    public LabHost Lab { get; private set; } = null!;
    public string MailDrop { get; } = Path.Combine(Path.GetTempPath(), "omr-lab-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync()
    {
        Lab = await LabHost.StartAsync(new LabOptions
        {
            MailDropPath = MailDrop,
            GreylistDelay = TimeSpan.FromSeconds(1),
            TarpitDelay = TimeSpan.FromSeconds(1),
        });
    }

    public async Task DisposeAsync()
    {
        await Lab.DisposeAsync();
        try { Directory.Delete(MailDrop, recursive: true); } catch (IOException) { }
    }
}

public sealed class LabTests : IClassFixture<LabSelfTestFixture>
{
    private readonly LabSelfTestFixture _f;
    private LabHost Lab => _f.Lab;

    public LabTests(LabSelfTestFixture fixture) { _f = fixture; }

    // The relay-test battery (same templates as the engine's catalogue, kept here so the lab is tested independently).
    private static readonly (string Name, string Mail, string Rcpt)[] Battery =
    [
        ("foreign-recipient", "<{from}>", "<{rcpt}>"),
        ("null-sender", "<>", "<{rcpt}>"),
        ("unqualified-sender", "<{fromuser}>", "<{rcpt}>"),
        ("local-domain-sender", "<postmaster@{domain}>", "<{rcpt}>"),
        ("local-host-sender", "<{fromuser}@{host}>", "<{rcpt}>"),
        ("ip-literal-sender", "<{fromuser}@[{ip}]>", "<{rcpt}>"),
        ("percent-hack-ip", "<{fromuser}@[{ip}]>", "<{user}%{ext}@[{ip}]>"),
        ("percent-hack-host", "<{fromuser}@[{ip}]>", "<{user}%{ext}@{host}>"),
        ("percent-hack-domain", "<{from}>", "<{user}%{ext}@{domain}>"),
        ("quoted-recipient", "<{fromuser}@[{ip}]>", "<\"{user}@{ext}\">"),
        ("quoted-percent", "<{fromuser}@[{ip}]>", "<\"{user}%{ext}\">"),
        ("quoted-at-ip", "<{fromuser}@[{ip}]>", "<\"{user}@{ext}\"@[{ip}]>"),
        ("quoted-at-host", "<{fromuser}@[{ip}]>", "<\"{user}@{ext}\"@{host}>"),
        ("double-at-ip", "<{fromuser}@[{ip}]>", "<{user}@{ext}@[{ip}]>"),
        ("double-at-host", "<{fromuser}@[{ip}]>", "<{user}@{ext}@{host}>"),
        ("trailing-at", "<{from}>", "<{user}@{ext}@>"),
        ("source-route-ip", "<{fromuser}@[{ip}]>", "<@[{ip}]:{user}@{ext}>"),
        ("source-route-host", "<{fromuser}@[{ip}]>", "<@{host}:{user}@{ext}>"),
        ("bang-path", "<{fromuser}@[{ip}]>", "<{ext}!{user}>"),
        ("bang-path-ip", "<{fromuser}@[{ip}]>", "<{ext}!{user}@[{ip}]>"),
        ("bang-path-host", "<{fromuser}@[{ip}]>", "<{ext}!{user}@{host}>"),
        ("ipv4-literal-recipient", "<{from}>", "<{user}@[192.0.2.1]>"),
        ("ipv6-literal-recipient", "<{from}>", "<{user}@[IPv6:2001:db8::1]>"),
        ("unbracketed-recipient", "<{from}>", "{rcpt}"),
        ("uppercase-domain", "<{from}>", "<{user}@{EXT}>"),
    ];

    private static string Expand(string t, LabServer s, string from, string user, string ext)
    {
        var ip = IPAddress.Parse(s.Address).AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6:" + s.Address : s.Address;
        return t.Replace("{from}", from).Replace("{fromuser}", from.Split('@')[0]).Replace("{rcpt}", user + "@" + ext)
            .Replace("{user}", user).Replace("{EXT}", ext.ToUpperInvariant()).Replace("{ext}", ext)
            .Replace("{ip}", ip).Replace("{host}", s.HostName).Replace("{domain}", s.Domain);
    }

    private Task<LabTestClient> ConnectAsync(string name) => LabTestClient.ConnectAsync(Lab.SmtpEndPoint(name));

    private Task<LabTestClient> ConnectEhloAsync(string name) => LabTestClient.ConnectEhloAsync(Lab.SmtpEndPoint(name));

    /// <summary>Runs the whole battery (pipelined MAIL/RCPT/RSET per test) and returns the names whose RCPT got 2xx.</summary>
    private async Task<HashSet<string>> RunBatteryAsync(string server, string from, string user, string ext, bool helo = false)
    {
        var s = Lab.Server(server);
        await using var c = await ConnectAsync(server);
        Assert.StartsWith("220 ", await c.ReadReplyAsync());
        Assert.StartsWith("250", await c.CommandAsync((helo ? "HELO" : "EHLO") + " tester.example.org"));
        var accepted = new HashSet<string>();
        foreach (var (name, mail, rcpt) in Battery)
        {
            await c.SendAsync($"MAIL FROM:{Expand(mail, s, from, user, ext)}\r\nRCPT TO:{Expand(rcpt, s, from, user, ext)}\r\nRSET\r\n");
            var mailReply = await c.ReadReplyAsync();
            var rcptReply = await c.ReadReplyAsync();
            var rsetReply = await c.ReadReplyAsync();
            Assert.NotNull(mailReply);
            Assert.StartsWith("250", rsetReply);
            Assert.True(rcptReply!.StartsWith('2') || rcptReply.StartsWith('5'), $"{server}/{name}: unexpected {rcptReply}");
            if (rcptReply.StartsWith('2')) accepted.Add(name);
        }
        return accepted;
    }

    [Fact]
    public async Task Open_server_greets_and_lists_extensions()
    {
        await using var c = await ConnectAsync("open");
        Assert.Equal("220 open.mx.omr-lab.test ESMTP Omr lab (open)", await c.ReadReplyAsync());
        var ehlo = await c.CommandAsync("EHLO tester.example.org");
        Assert.Equal("250-open.mx.omr-lab.test\n250-PIPELINING\n250-SIZE 10485760\n250-8BITMIME\n250-ENHANCEDSTATUSCODES\n250 SMTPUTF8", ehlo);
        Assert.Equal("252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery", await c.CommandAsync("VRFY root"));
        Assert.StartsWith("500 5.5.1", await c.CommandAsync("FROB"));
        Assert.StartsWith("503 5.5.1", await c.CommandAsync("RCPT TO:<a@example.net>"));
        Assert.StartsWith("221", await c.CommandAsync("QUIT"));
        Assert.True(await c.IsClosedAsync());
    }

    [Fact]
    public async Task Pipelined_burst_gets_replies_in_order()
    {
        await using var c = await ConnectEhloAsync("closed");
        await c.SendAsync(
            "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<postmaster@closed.omr-lab.test>\r\nRSET\r\n" +
            "MAIL FROM:<> SIZE=100\r\nRCPT TO:<c@example.net>\r\nRCPT TO:<postmaster>\r\nRSET\r\nNOOP\r\nMAIL FROM:<x@example.org> SIZE=99999999\r\n");
        string?[] expected = ["250 2.1.0", "550 5.7.1", "250 2.1.5", "250 2.0.0", "250 2.1.0", "550 5.7.1", "250 2.1.5", "250 2.0.0", "250 2.0.0", "552 5.3.4"];
        foreach (var e in expected) Assert.StartsWith(e, await c.ReadReplyAsync());
    }

    [Fact]
    public async Task Vuln_percent_hack_ip_accepts_its_trick_only()
    {
        await using var c = await ConnectEhloAsync("vuln-percent-hack-ip");
        var ip = Lab.Server("vuln-percent-hack-ip").Address;
        Assert.StartsWith("250 2.1.0", await c.CommandAsync($"MAIL FROM:<probe@[{ip}]>"));
        Assert.Equal("550 5.7.1 Relaying denied", await c.CommandAsync("RCPT TO:<relay-test@example.net>"));
        Assert.Equal("250 2.1.5 Ok", await c.CommandAsync($"RCPT TO:<relay-test%example.net@[{ip}]>"));
        Assert.StartsWith("5", await c.CommandAsync("RCPT TO:<relay-test%example.net@vuln-percent-hack-ip.mx.omr-lab.test>"));
        Assert.StartsWith("5", await c.CommandAsync("RCPT TO:<relay-test%example.net@[127.66.0.250]>"));
    }

    [Theory]
    [InlineData("example.net")]
    [InlineData("some-other.example")]
    [InlineData("mail.foreign-relay.co.uk")]
    public async Task Every_vulnerable_server_accepts_exactly_its_own_test(string ext)
    {
        var failures = new List<string>();
        foreach (var s in Lab.Servers.Where(s => s.Kind is "vuln" or "open" or "closed" or "discard" or "ipv6" or "helo-only"))
        {
            var accepted = await RunBatteryAsync(s.Name, "omr-probe@example.org", "relay-test", ext, helo: s.Name == "helo-only");
            if (!accepted.SetEquals(s.ExpectedRelayedBy))
                failures.Add($"{s.Name}: accepted [{string.Join(",", accepted.Order())}] expected [{string.Join(",", s.ExpectedRelayedBy.Order())}]");
        }
        Assert.Empty(failures);
    }

    [Fact]
    public async Task Open_server_delivers_to_the_mail_drop_and_discard_does_not()
    {
        var before = Directory.GetFiles(Lab.MailDropPath, "*.eml").ToHashSet();
        await using (var c = await ConnectEhloAsync("open"))
        {
            Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<omr-probe@example.org>"));
            Assert.StartsWith("250", await c.CommandAsync("RCPT TO:<relay-test@example.net>"));
            Assert.StartsWith("354", await c.CommandAsync("DATA"));
            Assert.StartsWith("250 2.0.0 Ok: queued as", await c.CommandAsync("Subject: lab token 42\r\n\r\n..dot-stuffed line\r\nbody\r\n."));
            Assert.StartsWith("221", await c.CommandAsync("QUIT"));
        }
        var added = Directory.GetFiles(Lab.MailDropPath, "*.eml").Where(f => !before.Contains(f)).ToList();
        var eml = Assert.Single(added);
        var text = await File.ReadAllTextAsync(eml);
        // A relay hands the message on: the next server's hop above the relay's own.
        Assert.StartsWith("Return-Path: <omr-probe@example.org>\r\nReceived: from open.mx.omr-lab.test ([127.66.0.1]) by inbound.mailbox.omr-lab.test (Omr lab: the recipient's server) with ESMTP id ", text);
        Assert.Contains("for <relay-test@example.net>; ", text);
        Assert.Contains("\r\nReceived: from tester.example.org ([127.0.0.1]) by open.mx.omr-lab.test ([127.66.0.1]) with ESMTP id ", text);
        Assert.Contains("Subject: lab token 42\r\n\r\n.dot-stuffed line\r\nbody\r\n", text);
        Assert.EndsWith("body\r\n", text);

        before = Directory.GetFiles(Lab.MailDropPath, "*.eml").ToHashSet();
        await using (var c = await ConnectEhloAsync("discard"))
        {
            Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<omr-probe@example.org>"));
            Assert.StartsWith("250", await c.CommandAsync("RCPT TO:<relay-test@example.net>"));
            Assert.StartsWith("354", await c.CommandAsync("DATA"));
            Assert.StartsWith("250", await c.CommandAsync("Subject: discard me\r\n\r\nbody\r\n."));
        }
        Assert.DoesNotContain(Directory.GetFiles(Lab.MailDropPath, "*.eml"), f => !before.Contains(f));
    }

    [Fact]
    public async Task Starttls_required_is_an_open_relay_inside_tls()
    {
        await using var c = await ConnectAsync("starttls-required");
        Assert.StartsWith("220 ", await c.ReadReplyAsync());
        Assert.Contains("250-STARTTLS", await c.CommandAsync("EHLO tester.example.org"));
        Assert.Equal("530 5.7.0 Must issue a STARTTLS command first", await c.CommandAsync("MAIL FROM:<omr-probe@example.org>"));
        Assert.StartsWith("220 2.0.0", await c.CommandAsync("STARTTLS"));
        var ssl = await c.StartTlsAsync("starttls-required.mx.omr-lab.test");
        Assert.Contains("CN=starttls-required.mx.omr-lab.test", ssl.RemoteCertificate!.Subject);
        var ehlo = await c.CommandAsync("EHLO tester.example.org");
        Assert.DoesNotContain("STARTTLS", ehlo);
        Assert.StartsWith("250 2.1.0", await c.CommandAsync("MAIL FROM:<omr-probe@example.org>"));
        Assert.StartsWith("250 2.1.5", await c.CommandAsync("RCPT TO:<relay-test@example.net>"));
        Assert.StartsWith("221", await c.CommandAsync("QUIT"));
    }

    [Fact]
    public async Task Greylist_defers_first_sight_then_judges_as_closed()
    {
        await using var c = await ConnectEhloAsync("greylist");
        Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<omr-probe@example.org>"));
        Assert.Equal("450 4.7.1 Greylisted, try again later", await c.CommandAsync("RCPT TO:<grey@example.net>"));
        Assert.StartsWith("450", await c.CommandAsync("RCPT TO:<grey@example.net>"));
        await Task.Delay(TimeSpan.FromSeconds(1.3));
        Assert.Equal("550 5.7.1 Relaying denied", await c.CommandAsync("RCPT TO:<grey@example.net>"));
        Assert.StartsWith("450", await c.CommandAsync("RCPT TO:<other@example.net>"));
    }

    [Fact]
    public async Task Hangup_closes_after_every_fourth_refused_recipient()
    {
        await using var c = await ConnectEhloAsync("hangup");
        Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<omr-probe@example.org>"));
        for (int i = 0; i < 3; i++) Assert.StartsWith("550", await c.CommandAsync($"RCPT TO:<r{i}@example.net>"));
        Assert.StartsWith("550", await c.CommandAsync("RCPT TO:<r4@example.net>"));
        Assert.StartsWith("421 4.7.0", await c.ReadReplyAsync());
        Assert.True(await c.IsClosedAsync());
    }

    [Fact]
    public async Task Session_level_misbehaviours()
    {
        await using (var c = await ConnectAsync("drop-on-connect")) Assert.True(await c.IsClosedAsync());
        await using (var c = await ConnectAsync("garbage"))
        {
            Assert.Equal("HTTP/1.1 400 Bad Request", await c.ReadLineAsync());
        }
        await using (var c = await ConnectAsync("busy"))
        {
            Assert.Equal("421 4.3.2 Service not available, try later", await c.ReadReplyAsync());
            Assert.True(await c.IsClosedAsync());
        }
        await using (var c = await ConnectAsync("reject-session"))
        {
            Assert.Equal("554 5.7.1 No SMTP service for you", await c.ReadReplyAsync());
            Assert.StartsWith("503", await c.CommandAsync("EHLO tester.example.org"));
            Assert.StartsWith("503", await c.CommandAsync("MAIL FROM:<a@example.org>"));
            Assert.StartsWith("221", await c.CommandAsync("QUIT"));
        }
        await using (var c = await ConnectEhloAsync("drop-at-mail"))
        {
            await c.SendLineAsync("MAIL FROM:<a@example.org>");
            Assert.True(await c.IsClosedAsync());
        }
        await using (var c = await ConnectAsync("auth-required"))
        {
            Assert.StartsWith("220", await c.ReadReplyAsync());
            Assert.Contains("250-AUTH PLAIN LOGIN", await c.CommandAsync("EHLO tester.example.org"));
            Assert.Equal("530 5.7.0 Authentication required", await c.CommandAsync("MAIL FROM:<a@example.org>"));
            Assert.StartsWith("535", await c.CommandAsync("AUTH PLAIN AGFkbWluAHNlY3JldA=="));
            Assert.StartsWith("334", await c.CommandAsync("AUTH LOGIN"));
            Assert.StartsWith("334", await c.CommandAsync("YWRtaW4="));
            Assert.StartsWith("535", await c.CommandAsync("c2VjcmV0"));
        }
        await using (var c = await ConnectAsync("helo-only"))
        {
            Assert.StartsWith("220", await c.ReadReplyAsync());
            Assert.Equal("502 5.5.2 Error: command not recognized", await c.CommandAsync("EHLO tester.example.org"));
            Assert.Equal("250 helo-only.mx.omr-lab.test", await c.CommandAsync("HELO tester.example.org"));
        }
    }

    [Fact]
    public async Task Endless_ehlo_replies_are_endless()
    {
        foreach (var name in new[] { "longline", "multiline" })
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(Lab.SmtpEndPoint(name));
            var stream = tcp.GetStream();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var buffer = new byte[64 * 1024];
            await stream.WriteAsync("EHLO tester.example.org\r\n"u8.ToArray(), cts.Token);
            long total = 0; int crlf = 0;
            while (total < 1_000_000)
            {
                int n = await stream.ReadAsync(buffer, cts.Token);
                Assert.True(n > 0);
                for (int i = 0; i < n; i++) if (buffer[i] == '\n') crlf++;
                total += n;
            }
            if (name == "longline") Assert.Equal(1, crlf); // only the greeting line ends
            else Assert.True(crlf > 10_000);
        }
    }

    [Fact]
    public async Task Junk_and_abrupt_clients_do_not_hurt_the_server()
    {
        await using (var c = await ConnectEhloAsync("closed"))
        {
            Assert.Equal("500 5.5.2 Error: line too long", await c.CommandAsync(new string('A', 5000)));
            Assert.StartsWith("500 5.5.1", await c.CommandAsync("\u0001\u0002\u00ff junk"));
            Assert.StartsWith("501", await c.CommandAsync("MAIL TO:<x>"));
            Assert.StartsWith("501", await c.CommandAsync("MAIL FROM:<unterminated"));
            Assert.StartsWith("250", await c.CommandAsync("NOOP"));
        }
        // Abrupt disconnect in the middle of DATA on the open relay.
        await using (var c = await ConnectEhloAsync("open"))
        {
            await c.CommandAsync("MAIL FROM:<a@example.org>");
            await c.CommandAsync("RCPT TO:<b@example.net>");
            Assert.StartsWith("354", await c.CommandAsync("DATA"));
            await c.SendAsync("Subject: half a message\r\n\r\npartial");
        }
        await using (var c = await ConnectEhloAsync("open"))
            Assert.StartsWith("250", await c.CommandAsync("NOOP"));
    }

    [Fact]
    public async Task Ipv6_server_answers_on_loopback_v6()
    {
        Assert.Equal("::1", Lab.Server("ipv6").Address);
        await using var c = await LabTestClient.ConnectAsync(new IPEndPoint(IPAddress.IPv6Loopback, Lab.SmtpPort));
        Assert.Equal("220 ipv6.mx.omr-lab.test ESMTP Omr lab (ipv6)", await c.ReadReplyAsync());
    }

    [Fact]
    public void Manifest_is_one_line_of_camel_case_json()
    {
        var json = Lab.ToJson();
        Assert.DoesNotContain('\n', json);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(Lab.SmtpPort, root.GetProperty("smtpPort").GetInt32());
        Assert.Equal($"127.66.0.53:{Lab.DnsEndPoint.Port}", root.GetProperty("dnsServer").GetString());
        Assert.Equal(Lab.MailDropPath, root.GetProperty("mailDrop").GetString());
        var servers = root.GetProperty("servers").EnumerateArray().ToList();
        Assert.Equal(72, servers.Count);
        var first = servers[0];
        foreach (var p in new[] { "name", "kind", "address", "hostName", "domain", "expectedVerdict", "expectedRelayedBy", "description" })
            Assert.True(first.TryGetProperty(p, out _), p);
        Assert.DoesNotContain(servers, s => s.GetProperty("address").GetString() == "127.66.0.53");
        Assert.Equal(25, servers.Count(s => s.GetProperty("kind").GetString() == "vuln"));
        var backup = root.GetProperty("domains").EnumerateArray().Single(d => d.GetProperty("name").GetString() == "backup.omr-lab.test");
        Assert.Equal(["closed:Closed@10", "open:Open@20"], backup.GetProperty("expect").EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    private ArDnsClient Dns(bool tcp = false) =>
        new([Lab.DnsEndPoint.Address],
            tcp ? [new TcpClientTransport(Lab.DnsEndPoint.Port)] : [new UdpClientTransport(Lab.DnsEndPoint.Port)],
            true, 5000);

    [Fact]
    public async Task Dns_backup_domain_has_two_mx()
    {
        var answer = await Dns().ResolveAsync(DomainName.Parse("backup.omr-lab.test"), RecordType.Mx);
        Assert.NotNull(answer);
        Assert.Equal(ReturnCode.NoError, answer!.ReturnCode);
        Assert.True(answer.IsAuthoritiveAnswer);
        var mx = answer.AnswerRecords.OfType<MxRecord>().OrderBy(m => m.Preference).Select(m => $"{m.Preference} {m.ExchangeDomainName}").ToArray();
        Assert.Equal(["10 closed.mx.omr-lab.test.", "20 open.mx.omr-lab.test."], mx);
    }

    [Fact]
    public async Task Dns_null_mx_unknown_names_and_addresses()
    {
        var nullmx = await Dns().ResolveAsync(DomainName.Parse("nullmx.omr-lab.test"), RecordType.Mx);
        var mx = Assert.Single(nullmx!.AnswerRecords.OfType<MxRecord>());
        Assert.Equal(0, mx.Preference);
        Assert.Equal(DomainName.Root, mx.ExchangeDomainName);

        var nx = await Dns(tcp: true).ResolveAsync(DomainName.Parse("nosuch.omr-lab.test"), RecordType.Mx);
        Assert.Equal(ReturnCode.NxDomain, nx!.ReturnCode);
        Assert.Single(nx.AuthorityRecords.OfType<SoaRecord>());

        var nodata = await Dns().ResolveAsync(DomainName.Parse("open.omr-lab.test"), RecordType.Txt);
        Assert.Equal(ReturnCode.NoError, nodata!.ReturnCode);
        Assert.Empty(nodata.AnswerRecords);
        Assert.Single(nodata.AuthorityRecords.OfType<SoaRecord>());

        var dangling = await Dns().ResolveAsync(DomainName.Parse("missing.mx.omr-lab.test"), RecordType.A);
        Assert.Equal(ReturnCode.NxDomain, dangling!.ReturnCode);

        var v6 = await Dns().ResolveAsync(DomainName.Parse("ipv6.mx.omr-lab.test"), RecordType.Aaaa);
        Assert.Equal(IPAddress.IPv6Loopback, Assert.Single(v6!.AnswerRecords.OfType<AaaaRecord>()).Address);

        var dualA = await Dns().ResolveAsync(DomainName.Parse("dual.mx.omr-lab.test"), RecordType.A);
        Assert.Equal(IPAddress.Parse(Lab.Server("closed").Address), Assert.Single(dualA!.AnswerRecords.OfType<ARecord>()).Address);

        var nomx = await Dns().ResolveAsync(DomainName.Parse("nomx.omr-lab.test"), RecordType.Mx);
        Assert.Empty(nomx!.AnswerRecords);
        var nomxA = await Dns().ResolveAsync(DomainName.Parse("nomx.omr-lab.test"), RecordType.A);
        Assert.Single(nomxA!.AnswerRecords.OfType<ARecord>());

        var vuln = await Dns().ResolveAsync(DomainName.Parse("vuln-bang-path.omr-lab.test"), RecordType.Mx);
        Assert.Equal("vuln-bang-path.mx.omr-lab.test.", Assert.Single(vuln!.AnswerRecords.OfType<MxRecord>()).ExchangeDomainName.ToString());
    }

    [Fact]
    public async Task Tarpit_delays_greeting_and_replies()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await using var c = await ConnectAsync("tarpit");
        Assert.Equal("220 tarpit.mx.omr-lab.test ESMTP Omr lab (tarpit)", await c.ReadReplyAsync());
        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(0.9), sw.Elapsed.ToString());
        sw.Restart();
        Assert.StartsWith("250", await c.CommandAsync("NOOP"));
        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(0.9), sw.Elapsed.ToString());
    }

    [Fact]
    public async Task Dns_survives_junk_datagrams()
    {
        using (var udp = new UdpClient(AddressFamily.InterNetwork))
        {
            await udp.SendAsync(new byte[] { 1, 2, 3 }, Lab.DnsEndPoint);
            await udp.SendAsync(new byte[600], Lab.DnsEndPoint);
        }
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(Lab.DnsEndPoint);
            await tcp.GetStream().WriteAsync(new byte[] { 0, 5, 1, 2 });
        }
        var answer = await Dns().ResolveAsync(DomainName.Parse("open.omr-lab.test"), RecordType.Mx);
        Assert.Single(answer!.AnswerRecords.OfType<MxRecord>());
    }

    [Fact]
    public async Task Dispose_frees_the_ports()
    {
        var lab = await LabHost.StartAsync(new LabOptions { MailDropPath = Path.Combine(_f.MailDrop, "second") });
        int smtpPort = lab.SmtpPort, dnsPort = lab.DnsEndPoint.Port;
        await using (var c = await LabTestClient.ConnectAsync(lab.SmtpEndPoint("open")))
        {
            Assert.StartsWith("220", await c.ReadReplyAsync());
            await lab.DisposeAsync();
            Assert.True(await c.IsClosedAsync());
        }
        var l = new TcpListener(IPAddress.Parse("127.66.0.1"), smtpPort);
        l.Start();
        l.Stop();
        var l6 = new TcpListener(IPAddress.IPv6Loopback, smtpPort);
        l6.Start();
        l6.Stop();
        using var udp = new UdpClient(new IPEndPoint(LabHost.DnsAddress, dnsPort));
        var t = new TcpListener(LabHost.DnsAddress, dnsPort);
        t.Start();
        t.Stop();
    }
}
