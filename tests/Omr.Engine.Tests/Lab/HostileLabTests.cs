using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Omr.Lab;
using Xunit;
using LabHost = Omr.Lab.Lab;

namespace Omr.Engine.Tests.LabSelfTests;

/// <summary>Raw-protocol proof that each hostile lab server really misbehaves the way its description says.</summary>
public sealed class HostileLabTests : IClassFixture<LabSelfTestFixture>
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1);
    private readonly LabSelfTestFixture _f;
    private LabHost Lab => _f.Lab;

    public HostileLabTests(LabSelfTestFixture fixture) { _f = fixture; }

    private Task<LabTestClient> ConnectAsync(string name) => LabTestClient.ConnectAsync(Lab.SmtpEndPoint(name));

    private Task<LabTestClient> ConnectEhloAsync(string name) => LabTestClient.ConnectEhloAsync(Lab.SmtpEndPoint(name));

    private static string Ascii(byte[] b) => Encoding.Latin1.GetString(b);

    private static bool IsReset(Exception ex) =>
        ex is SocketException { SocketErrorCode: SocketError.ConnectionReset }
        || ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset };

    [Fact]
    public void Every_hostile_server_is_in_the_manifest_with_a_verdict_and_a_description()
    {
        var hostile = Lab.Servers.Where(s => s.Name.StartsWith("hostile-", StringComparison.Ordinal)).ToList();
        Assert.Equal(24, hostile.Count);
        Assert.All(hostile, s =>
        {
            Assert.Contains(s.ExpectedVerdict, new[] { "Open", "Closed", "Inconclusive", "Unreachable" });
            Assert.False(string.IsNullOrWhiteSpace(s.Description));
            Assert.Equal(s.Name, s.Kind);
            Assert.Equal(s.Name + ".omr-lab.test", s.Domain);
        });
        Assert.Equal("Open", Lab.Server("limited").ExpectedVerdict);
    }

    [Fact]
    public async Task Silent_never_sends_a_byte()
    {
        await using var c = await ConnectAsync("hostile-silent");
        Assert.True(await c.IsSilentForAsync(TimeSpan.FromSeconds(1.5)));
        await c.SendLineAsync("EHLO tester.example.org");
        Assert.True(await c.IsSilentForAsync(Quiet));
    }

    [Fact]
    public async Task Slow_greeting_greets_only_after_its_delay()
    {
        var sw = Stopwatch.StartNew();
        await using var c = await ConnectAsync("hostile-slow-greeting");
        Assert.True(await c.IsSilentForAsync(TimeSpan.FromSeconds(3)));
        var greeting = await c.ReadLineAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith("220 hostile-slow-greeting.mx.omr-lab.test", greeting);
        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(19), sw.Elapsed.ToString());
        Assert.StartsWith("250", await c.CommandAsync("EHLO tester.example.org"));
    }

    [Fact]
    public async Task Drip_sends_one_byte_every_quarter_second()
    {
        await using var c = await ConnectAsync("hostile-drip");
        var sw = Stopwatch.StartNew();
        var got = new MemoryStream();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (got.Length < 5) got.Write(await c.ReadSomeAsync(cts.Token));
        // 5 bytes need 4 intervals of 250 ms after the first.
        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(0.9), sw.Elapsed.ToString());
        Assert.StartsWith("220 h", Ascii(got.ToArray()));
        // Never more than a byte or two at once.
        var (more, _) = await c.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(600), max: 4);
        Assert.InRange(more.Length, 1, 4);
    }

    [Fact]
    public async Task Endless_greeting_is_one_line_that_never_ends()
    {
        await using var c = await ConnectAsync("hostile-endless-greeting");
        var (bytes, _) = await c.ReadUntilQuietAsync(Quiet, max: 1_000_000);
        Assert.True(bytes.Length >= 1_000_000, bytes.Length.ToString());
        Assert.StartsWith("220 xxx", Ascii(bytes[..16]));
        Assert.DoesNotContain((byte)'\n', bytes);
    }

    [Fact]
    public async Task Huge_banner_is_over_a_million_bytes_of_legal_lines_then_a_closed_server()
    {
        await using var c = await ConnectAsync("hostile-huge-banner");
        var banner = await c.ReadReplyAsync();
        Assert.NotNull(banner);
        var lines = banner!.Split('\n');
        long bytes = lines.Sum(l => (long)l.Length + 2);
        Assert.True(bytes >= 1_000_000, bytes.ToString());
        Assert.All(lines, l => Assert.True(l.Length <= 510, "a line of " + l.Length));
        Assert.All(lines[..^1], l => Assert.StartsWith("220-", l));
        Assert.Equal("220 hostile-huge-banner.mx.omr-lab.test ESMTP Omr lab (hostile-huge-banner)", lines[^1]);
        Assert.StartsWith("250", await c.CommandAsync("EHLO tester.example.org"));
        Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        Assert.StartsWith("550 5.7.1", await c.CommandAsync("RCPT TO:<b@example.net>"));
    }

    [Theory]
    [InlineData("hostile-ehlo-flood", 200_000, 2_000_000, long.MaxValue)]
    [InlineData("hostile-huge-ehlo", 20_000, 200_000, 256 * 1024 - 10_000)]
    public async Task Ehlo_reply_has_that_many_extra_lines_and_the_real_keywords_after_them(string name, int extra, long minBytes, long maxBytes)
    {
        await using var c = await ConnectAsync(name);
        Assert.StartsWith("220 ", await c.ReadReplyAsync());
        var ehlo = await c.CommandAsync("EHLO tester.example.org");
        var lines = ehlo!.Split('\n');
        long bytes = lines.Sum(l => (long)l.Length + 2);
        Assert.InRange(bytes, minBytes, maxBytes);
        Assert.Equal(extra, lines.Count(l => l.StartsWith("250-X", StringComparison.Ordinal)));
        Assert.Equal("250-" + name + ".mx.omr-lab.test", lines[0]);
        Assert.Equal("250-PIPELINING", lines[extra + 1]);
        Assert.Equal("250 SMTPUTF8", lines[^1]);
        Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        Assert.StartsWith("550 5.7.1", await c.CommandAsync("RCPT TO:<b@example.net>"));
    }

    [Fact]
    public async Task Binary_puts_NUL_and_invalid_UTF8_in_the_greeting_and_the_RCPT_refusal()
    {
        await using var c = await ConnectAsync("hostile-binary");
        var (greeting, _) = await c.ReadUntilQuietAsync(Quiet);
        AssertBinary(greeting, "220 hostile-binary.mx.omr-lab.test ");
        await c.SendAsync("EHLO tester.example.org\r\n");
        var (ehlo, _) = await c.ReadUntilQuietAsync(Quiet);
        Assert.EndsWith("250 SMTPUTF8\r\n", Ascii(ehlo));
        await c.SendAsync("MAIL FROM:<a@example.org>\r\n");
        Assert.StartsWith("250", Ascii((await c.ReadUntilQuietAsync(Quiet)).Bytes));
        await c.SendAsync("RCPT TO:<b@example.net>\r\n");
        var (rcpt, _) = await c.ReadUntilQuietAsync(Quiet);
        AssertBinary(rcpt, "550 5.7.1 ");

        static void AssertBinary(byte[] reply, string prefix)
        {
            Assert.StartsWith(prefix, Ascii(reply));
            Assert.EndsWith("\r\n", Ascii(reply));
            Assert.Contains((byte)0, reply);
            Assert.Contains((byte)0xff, reply);
            Assert.Throws<DecoderFallbackException>(() => new UTF8Encoding(false, true).GetString(reply));
        }
    }

    [Fact]
    public async Task Bad_codes_answer_RCPT_with_non_numeric_and_out_of_range_codes_in_turn()
    {
        await using var c = await ConnectEhloAsync("hostile-bad-codes");
        Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        Assert.Equal("2x0 ok", await c.CommandAsync("RCPT TO:<b@example.net>"));
        Assert.Equal("700 ok", await c.CommandAsync("RCPT TO:<b@example.net>"));
        Assert.Equal("099 hi", await c.CommandAsync("RCPT TO:<b@example.net>"));
        Assert.Equal("2x0 ok", await c.CommandAsync("RCPT TO:<b@example.net>"));
    }

    [Fact]
    public async Task Reset_ehlo_sends_part_of_a_multiline_reply_then_a_TCP_reset()
    {
        await using var c = await ConnectAsync("hostile-reset-ehlo");
        Assert.StartsWith("220 ", await c.ReadReplyAsync());
        await c.SendLineAsync("EHLO tester.example.org");
        var got = new MemoryStream();
        Exception? error = null;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (true)
            {
                var some = await c.ReadSomeAsync(cts.Token);
                if (some.Length == 0) break;
                got.Write(some);
            }
        }
        catch (IOException ex) { error = ex; }
        catch (SocketException ex) { error = ex; }
        var text = Ascii(got.ToArray());
        Assert.StartsWith("250-hostile-reset-ehlo.mx.omr-lab.test\r\n250-PIPELINING\r\n", text);
        Assert.DoesNotContain("250 ", text); // the reply never ends
        Assert.True(error is not null && IsReset(error), "expected a connection reset, got " + (error?.ToString() ?? "a clean EOF"));
    }

    [Fact]
    public async Task Hang_at_mail_never_answers_MAIL_and_keeps_the_connection_open()
    {
        await using var c = await ConnectEhloAsync("hostile-hang-at-mail");
        await c.SendLineAsync("MAIL FROM:<a@example.org>");
        Assert.True(await c.IsSilentForAsync(TimeSpan.FromSeconds(1.5)));
        await c.SendLineAsync("NOOP");
        Assert.True(await c.IsSilentForAsync(Quiet));
    }

    [Fact]
    public async Task Yes_to_all_says_2xx_to_everything_and_delivers_nothing()
    {
        var before = Directory.GetFiles(Lab.MailDropPath, "*.eml").ToHashSet();
        await using (var c = await ConnectEhloAsync("hostile-yes-to-all"))
        {
            Assert.StartsWith("250", await c.CommandAsync("FROB nonsense"));
            Assert.StartsWith("250", await c.CommandAsync("RCPT TO:<before-mail@example.net>"));
            Assert.StartsWith("250", await c.CommandAsync("RSET"));
            Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<a@example.org>"));
            Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<nested@example.org>"));
            Assert.StartsWith("250", await c.CommandAsync("RCPT TO:<relay-test@example.net>"));
            Assert.StartsWith("250", await c.CommandAsync("RCPT TO:garbage"));
            Assert.StartsWith("354", await c.CommandAsync("DATA"));
            Assert.StartsWith("250", await c.CommandAsync("Subject: discard me\r\n\r\nbody\r\n."));
            Assert.StartsWith("250", await c.CommandAsync("\u0001\u0002 junk"));
            Assert.StartsWith("250", await c.CommandAsync("RSET"));
        }
        Assert.DoesNotContain(Directory.GetFiles(Lab.MailDropPath, "*.eml"), f => !before.Contains(f));
    }

    private async Task<(string[] Replies, byte[] Raw)> PipelineOneTestAsync(LabTestClient c)
    {
        await c.SendAsync("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRSET\r\n");
        var (raw, closed) = await c.ReadUntilQuietAsync(Quiet);
        Assert.False(closed);
        var text = Ascii(raw);
        Assert.EndsWith("\r\n", text);
        return (text[..^2].Split("\r\n"), raw);
    }

    [Fact]
    public async Task Pipelining_missing_sends_two_replies_for_MAIL_RCPT_RSET()
    {
        await using var c = await ConnectAsync("hostile-pipelining-missing");
        Assert.StartsWith("220 ", await c.ReadReplyAsync());
        Assert.Contains("250-PIPELINING", await c.CommandAsync("EHLO tester.example.org"));
        var (replies, _) = await PipelineOneTestAsync(c);
        Assert.Equal(new[] { "250 2.1.0 Ok", "250 2.0.0 Ok" }, replies);
        Assert.Equal("250 2.0.0 Ok", await c.CommandAsync("NOOP"));
        Assert.Equal("221 2.0.0 Bye", await c.CommandAsync("QUIT"));
    }

    [Fact]
    public async Task Pipelining_extra_sends_four_replies_for_MAIL_RCPT_RSET()
    {
        await using var c = await ConnectEhloAsync("hostile-pipelining-extra");
        var (replies, _) = await PipelineOneTestAsync(c);
        Assert.Equal(new[] { "250 2.1.0 Ok", "250 2.1.0 Ok", "550 5.7.1 Relaying denied", "250 2.0.0 Ok" }, replies);
    }

    [Fact]
    public async Task Late_extra_offers_no_pipelining_and_answers_RCPT_first_with_a_stale_250_then_the_real_550()
    {
        await using var c = await LabTestClient.ConnectAsync(Lab.SmtpEndPoint("hostile-late-extra"));
        Assert.StartsWith("220 ", await c.ReadReplyAsync());
        var ehlo = await c.CommandAsync("EHLO probe.example");
        Assert.StartsWith("250", ehlo);
        Assert.Contains("8BITMIME", ehlo);
        Assert.DoesNotContain("PIPELINING", ehlo);
        Assert.Equal("250 2.1.0 Ok", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("250 2.1.0 Ok", await c.CommandAsync("RCPT TO:<b@example.net>"));
        // The real answer comes later, when a one-command-at-a-time client has already moved on.
        Assert.True(await c.IsSilentForAsync(TimeSpan.FromMilliseconds(100)));
        Assert.StartsWith("550 5.7.1", await c.ReadReplyAsync());
        Assert.True(sw.ElapsedMilliseconds >= 150, $"{sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Pipelining_mixed_answers_RCPT_with_a_multiline_reply_whose_codes_differ()
    {
        await using var c = await ConnectEhloAsync("hostile-pipelining-mixed");
        var (replies, _) = await PipelineOneTestAsync(c);
        Assert.Equal(new[] { "250 2.1.0 Ok", "250-ok", "550 no", "250 2.0.0 Ok" }, replies);
    }

    [Fact]
    public async Task Pipelining_padded_withholds_RCPT_replies_and_pays_them_back_at_QUIT()
    {
        await using var c = await ConnectEhloAsync("hostile-pipelining-padded");
        Assert.Equal(new[] { "250 2.1.0 Ok", "250 2.0.0 Ok" }, (await PipelineOneTestAsync(c)).Replies);
        Assert.Equal(new[] { "250 2.1.0 Ok", "250 2.0.0 Ok" }, (await PipelineOneTestAsync(c)).Replies);
        await c.SendLineAsync("QUIT");
        var (raw, closed) = await c.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n", Ascii(raw));
        Assert.True(closed);
    }

    [Theory]
    [InlineData("hostile-tls-garbage")]
    [InlineData("hostile-tls-reset")]
    [InlineData("hostile-tls-expired")]
    [InlineData("hostile-tls-wrong-name")]
    public async Task Broken_starttls_servers_are_closed_relays_in_clear_text(string name)
    {
        await using var c = await ConnectAsync(name);
        Assert.StartsWith("220 ", await c.ReadReplyAsync());
        Assert.Contains("250-STARTTLS", await c.CommandAsync("EHLO tester.example.org"));
        Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        Assert.Equal("550 5.7.1 Relaying denied", await c.CommandAsync("RCPT TO:<b@example.net>"));
    }

    private async Task<LabTestClient> StartTlsAsync(string name)
    {
        var c = await ConnectEhloAsync(name);
        Assert.Equal("220 2.0.0 Ready to start TLS", await c.CommandAsync("STARTTLS"));
        return c;
    }

    [Fact]
    public async Task Tls_garbage_answers_the_ClientHello_with_garbage()
    {
        await using var c = await StartTlsAsync("hostile-tls-garbage");
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => c.StartTlsAsync("hostile-tls-garbage.mx.omr-lab.test"));
        Assert.True(ex is AuthenticationException or IOException, ex.ToString());
        Assert.False(IsReset(ex), ex.ToString());
    }

    [Fact]
    public async Task Tls_reset_resets_the_connection_at_the_ClientHello()
    {
        await using var c = await StartTlsAsync("hostile-tls-reset");
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => c.StartTlsAsync("hostile-tls-reset.mx.omr-lab.test"));
        Assert.True(IsReset(ex) || ex is AuthenticationException { InnerException: null } || ex is IOException, ex.ToString());
        Assert.DoesNotContain("unexpected packet format", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("hostile-tls-expired", "CN=hostile-tls-expired.mx.omr-lab.test", true)]
    [InlineData("hostile-tls-wrong-name", "CN=not-this-host.example.com", false)]
    public async Task Tls_with_a_bad_certificate_completes_and_is_closed_inside(string name, string subject, bool expired)
    {
        await using var c = await StartTlsAsync(name);
        SslPolicyErrors errors = SslPolicyErrors.None;
        var ssl = await c.StartTlsAsync(name + ".mx.omr-lab.test", (_, _, _, e) => { errors = e; return true; });
        using var cert = new X509Certificate2(ssl.RemoteCertificate!);
        Assert.Equal(subject, cert.Subject);
        Assert.Equal(expired, cert.NotAfter < DateTime.Now);
        Assert.Equal(!expired, errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch));
        Assert.True(errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors), errors.ToString());
        Assert.DoesNotContain("STARTTLS", await c.CommandAsync("EHLO tester.example.org"));
        Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        Assert.Equal("550 5.7.1 Relaying denied", await c.CommandAsync("RCPT TO:<b@example.net>"));
    }

    [Fact]
    public async Task Rset_refused_refuses_RSET_and_then_the_next_MAIL()
    {
        await using var c = await ConnectEhloAsync("hostile-rset-refused");
        await c.SendAsync("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRSET\r\nMAIL FROM:<>\r\n");
        Assert.StartsWith("250 2.1.0", await c.ReadReplyAsync());
        Assert.StartsWith("550 5.7.1", await c.ReadReplyAsync());
        Assert.Equal("502 5.5.2 Error: command not implemented", await c.ReadReplyAsync());
        Assert.StartsWith("503 5.5.1", await c.ReadReplyAsync());
    }

    [Fact]
    public async Task Forward_251_answers_every_RCPT_with_251()
    {
        await using var c = await ConnectEhloAsync("hostile-forward-251");
        Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        Assert.Equal("251 2.1.5 user not local; will forward", await c.CommandAsync("RCPT TO:<b@example.net>"));
        Assert.Equal("251 2.1.5 user not local; will forward", await c.CommandAsync("RCPT TO:<b%c@[127.0.0.1]>"));
    }

    [Fact]
    public async Task Injection_puts_bare_CRs_and_header_lines_inside_the_RCPT_refusal()
    {
        await using var c = await ConnectEhloAsync("hostile-injection");
        Assert.StartsWith("250", await c.CommandAsync("MAIL FROM:<a@example.org>"));
        await c.SendAsync("RCPT TO:<b@example.net>\r\n");
        var (raw, _) = await c.ReadUntilQuietAsync(Quiet);
        var text = Ascii(raw);
        Assert.Contains("denied\rX-Injected: yes\r\n", text);
        Assert.Contains("\rSubject: forged\r\n", text);
        Assert.Equal(3, raw.Count(b => b == '\n'));
        Assert.Equal(5, raw.Count(b => b == '\r'));
        Assert.All(text[..^2].Split("\r\n"), l => Assert.StartsWith("550", l));
    }

    [Fact]
    public async Task Limited_allows_two_connections_from_one_client_and_refuses_the_third()
    {
        await using var a = await ConnectAsync("limited");
        await using var b = await ConnectAsync("limited");
        Assert.StartsWith("220 ", await a.ReadReplyAsync());
        Assert.StartsWith("220 ", await b.ReadReplyAsync());
        await using (var third = await ConnectAsync("limited"))
        {
            Assert.StartsWith("421 4.7.0 Error: too many connections from 127.", await third.ReadReplyAsync());
            Assert.True(await third.IsClosedAsync());
        }
        Assert.StartsWith("221", await a.CommandAsync("QUIT"));
        // Once one session is over, a new connection is served again (the server notices the end asynchronously).
        var deadline = Stopwatch.StartNew();
        string? greeting;
        do
        {
            await using var again = await ConnectAsync("limited");
            greeting = await again.ReadReplyAsync();
        } while (greeting!.StartsWith("421", StringComparison.Ordinal) && deadline.Elapsed < TimeSpan.FromSeconds(5));
        Assert.StartsWith("220 ", greeting);
    }

    [Fact]
    public async Task Disposing_the_lab_ends_every_hostile_session_at_once()
    {
        var lab = await LabHost.StartAsync(new LabOptions { MailDropPath = Path.Combine(_f.MailDrop, "hostile-dispose") });
        var clients = new List<LabTestClient>();
        try
        {
            foreach (var name in new[] { "hostile-silent", "hostile-slow-greeting", "hostile-drip", "hostile-hang-at-mail", "hostile-pipelining-missing" })
                clients.Add(await LabTestClient.ConnectAsync(lab.SmtpEndPoint(name)));
            foreach (var c in clients.Skip(3))
            {
                Assert.StartsWith("220", await c.ReadReplyAsync());
                Assert.StartsWith("250", await c.CommandAsync("EHLO tester.example.org"));
                await c.SendAsync("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n");
            }
            await Task.Delay(300);
            var sw = Stopwatch.StartNew();
            await lab.DisposeAsync();
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), sw.Elapsed.ToString());
            foreach (var c in clients)
            {
                var (_, closed) = await c.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
                Assert.True(closed);
            }
        }
        finally
        {
            await lab.DisposeAsync();
            foreach (var c in clients) await c.DisposeAsync();
        }
    }
}
