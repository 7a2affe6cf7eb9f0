using System.Diagnostics;
using Omr.Engine.Probing;
using Xunit;
using Xunit.Abstractions;

namespace Omr.Engine.Tests;

/// <summary>
/// The probe engine against every hostile lab server: exactly one honest result, within the deadline,
/// never Open without a complete in-step acceptance, a reason that names what happened, and a bounded
/// number of bytes read.
/// </summary>
[Collection("lab")]
public class HostileTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(3);
    private const long MaxBytesPerHost = 256 * 1024;

    private static readonly RelayVerdict[] Open = [RelayVerdict.Open];
    private static readonly RelayVerdict[] Closed = [RelayVerdict.Closed];
    private static readonly RelayVerdict[] Inconclusive = [RelayVerdict.Inconclusive];
    private static readonly RelayVerdict[] Unreachable = [RelayVerdict.Unreachable];

    // What the Reason must mention (any one of them, case-insensitive): adjust here when the engine's wording changes.
    private static readonly string[] NoGreetingWords = ["greeting"];
    private static readonly string[] TarpitWords = ["tarpit", "slow"];
    private static readonly string[] TooMuchWords = ["bytes", "too much", "budget"];
    private static readonly string[] BadReplyWords = ["malformed", "protocol", "invalid", "code"];
    private static readonly string[] LostWords = ["reset", "lost", "closed"];
    private static readonly string[] NoReplyWords = ["no reply", "timeout", "timed out", "deadline"];
    private static readonly string[] AcceptedWords = ["accepted"];
    private static readonly string[] OutOfStepWords = ["out of step", "pipelin", "lock-step", "missing", "extra"];
    private static readonly string[] RefusedWords = ["refused"];
    private static readonly string[] TlsWords = ["TLS"];

    /// <param name="Server">Lab server name.</param>
    /// <param name="Tls">-Tls mode of the scan.</param>
    /// <param name="Allowed">Acceptable verdicts (one, except where the lab's behaviour honestly allows two).</param>
    /// <param name="Code">The ReasonCode when it is clear which one is right; null = not asserted.</param>
    /// <param name="Keywords">The Reason contains at least one of these.</param>
    /// <param name="Reconnects">True when the engine reconnects once (TLS fallback), which may get its own deadline.</param>
    public sealed record HostileCase(string Server, TlsMode Tls, RelayVerdict[] Allowed, RelayReasonCode? Code, string[] Keywords, bool Reconnects = false);

    /// <summary>The table: one row per test case (case numbers are those of the hostile-server brief).</summary>
    public static readonly IReadOnlyList<HostileCase> Cases =
    [
        /*  1 */ new("hostile-silent", TlsMode.Auto, Unreachable, RelayReasonCode.NoGreeting, NoGreetingWords),
        // 2: no byte within the reply timeout → Unreachable; an engine that calls a silent-but-open port Inconclusive is honest too.
        /*  2 */ new("hostile-slow-greeting", TlsMode.Auto, [RelayVerdict.Unreachable, RelayVerdict.Inconclusive], null, NoGreetingWords),
        /*  3 */ new("hostile-drip", TlsMode.Auto, Inconclusive, RelayReasonCode.Tarpit, TarpitWords),
        // 4: a greeting that never ends is "no SMTP greeting" (the lab says Unreachable) or, to an engine that counts the 220 as SMTP, a broken one.
        /*  4 */ new("hostile-endless-greeting", TlsMode.Auto, [RelayVerdict.Unreachable, RelayVerdict.Inconclusive], null, ["greeting", "line", "long", "bytes"]),
        /*  5 */ new("hostile-huge-banner", TlsMode.Auto, Inconclusive, RelayReasonCode.TooMuchData, TooMuchWords),
        /*  6 */ new("hostile-ehlo-flood", TlsMode.Auto, Inconclusive, RelayReasonCode.TooMuchData, TooMuchWords),
        /*  7 */ new("hostile-binary", TlsMode.Auto, Closed, RelayReasonCode.AllRefused, RefusedWords),
        /*  8 */ new("hostile-bad-codes", TlsMode.Auto, Inconclusive, RelayReasonCode.ProtocolViolation, BadReplyWords),
        /*  9 */ new("hostile-reset-ehlo", TlsMode.Auto, Inconclusive, RelayReasonCode.ConnectionLost, LostWords),
        /* 10 */ new("hostile-hang-at-mail", TlsMode.Auto, Inconclusive, null, NoReplyWords),
        /* 11 */ new("hostile-yes-to-all", TlsMode.Auto, Open, RelayReasonCode.RelayAccepted, AcceptedWords),
        /* 12 */ new("hostile-pipelining-missing", TlsMode.Auto, Inconclusive, RelayReasonCode.OutOfStep, OutOfStepWords),
        /* 13 */ new("hostile-pipelining-extra", TlsMode.Auto, Inconclusive, RelayReasonCode.OutOfStep, OutOfStepWords),
        /* 14 */ new("hostile-pipelining-mixed", TlsMode.Auto, Inconclusive, RelayReasonCode.ProtocolViolation, BadReplyWords),
        /* 15 */ new("hostile-huge-ehlo", TlsMode.Auto, Closed, RelayReasonCode.AllRefused, RefusedWords),
        /* 16 */ new("hostile-tls-garbage", TlsMode.Auto, Closed, RelayReasonCode.AllRefused, RefusedWords, Reconnects: true),
        /* 16 */ new("hostile-tls-garbage", TlsMode.Required, Inconclusive, RelayReasonCode.TlsRequired, TlsWords),
        /* 16 */ new("hostile-tls-reset", TlsMode.Auto, Closed, RelayReasonCode.AllRefused, RefusedWords, Reconnects: true),
        /* 16 */ new("hostile-tls-reset", TlsMode.Required, Inconclusive, RelayReasonCode.TlsRequired, TlsWords),
        /* 16 */ new("hostile-tls-expired", TlsMode.Auto, Closed, RelayReasonCode.AllRefused, RefusedWords),
        /* 16 */ new("hostile-tls-wrong-name", TlsMode.Auto, Closed, RelayReasonCode.AllRefused, RefusedWords),
        /* 17 */ new("hostile-rset-refused", TlsMode.Auto, Closed, RelayReasonCode.AllRefused, RefusedWords),
        /* 18 */ new("hostile-forward-251", TlsMode.Auto, Open, RelayReasonCode.RelayAccepted, AcceptedWords),
        /* 19 */ new("hostile-injection", TlsMode.Auto, Closed, RelayReasonCode.AllRefused, RefusedWords),
        /* 20 */ new("hostile-pipelining-padded", TlsMode.Auto, Inconclusive, RelayReasonCode.OutOfStep, OutOfStepWords),
        /* 21 */ new("hostile-late-extra", TlsMode.Auto, Inconclusive, RelayReasonCode.OutOfStep, OutOfStepWords),
    ];

    private static string Id(HostileCase c) => c.Tls == TlsMode.Auto ? c.Server : c.Server + "/Tls" + c.Tls;

    public static IEnumerable<object[]> CaseIds() => Cases.Select(c => new object[] { Id(c) });

    private readonly LabFixture _fx;
    private readonly ITestOutputHelper _out;

    public HostileTests(LabFixture fx, ITestOutputHelper output)
    {
        _fx = fx; _out = output;
    }

    private async Task<(List<RelayTestResult> Results, List<EngineErrorEvent> Errors, TimeSpan Elapsed)> ScanAsync(string domain, TlsMode tls)
    {
        var options = new ScanOptions
        {
            DnsServers = new[] { _fx.Lab.DnsEndPoint },
            Ports = new[] { _fx.Lab.SmtpPort },
            ThrottleLimit = 16,
            Probe = new ProbeSettings
            {
                Timeout = Timeout,
                HeloName = "probe.omr-test.example",
                ProbeFrom = $"hostile-{Guid.NewGuid():N}@example.org",
                Tls = tls,
            },
        };
        options.Probe.Limits.ReplyTimeout = ReplyTimeout;
        options.Probe.Limits.MaxBytesPerHost = MaxBytesPerHost;
        var sw = Stopwatch.StartNew();
        using var scanner = new RelayScanner(options, CancellationToken.None);
        scanner.AddDomain(domain, domain);
        scanner.Complete();
        var (results, errors) = await ScanEvents.DrainAsync(scanner);
        return (results, errors, sw.Elapsed);
    }

    [Fact]
    public void The_table_covers_every_hostile_lab_server_and_agrees_with_the_manifest()
    {
        var hostile = _fx.Lab.Servers.Where(s => s.Name.StartsWith("hostile-", StringComparison.Ordinal)).Select(s => s.Name).Order();
        Assert.Equal(hostile, Cases.Select(c => c.Server).Distinct().Order());
        foreach (var c in Cases.Where(c => c.Tls == TlsMode.Auto))
            Assert.Contains(Enum.Parse<RelayVerdict>(_fx.Lab.Server(c.Server).ExpectedVerdict), c.Allowed);
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public async Task A_hostile_server_gets_one_honest_bounded_answer(string id)
    {
        var c = Cases.Single(x => Id(x) == id);
        var server = _fx.Lab.Server(c.Server);
        var (results, errors, elapsed) = await ScanAsync(server.Domain, c.Tls);

        Assert.Empty(errors);
        var r = Assert.Single(results);
        var context = $"{id}: {r.Verdict}/{r.ReasonCode}: {r.Reason} (Tls {r.Tls}, {r.Connections} connection(s), {r.BytesReceived} bytes, {elapsed})\n{r.TranscriptText}";
        _out.WriteLine(context);
        Assert.Equal(server.Address, r.Address);

        // Within the deadline. The TLS fallback reconnects in clear text after the failed handshake and
        // may get a deadline of its own, so those cases are allowed two deadlines.
        var bound = (c.Reconnects ? 2 * Timeout : Timeout) + Margin;
        Assert.True(elapsed < bound, $"took {elapsed}, bound {bound}. {context}");

        Assert.True(c.Allowed.Contains(r.Verdict), $"verdict not in [{string.Join(", ", c.Allowed)}]. {context}");
        if (!c.Allowed.Contains(RelayVerdict.Open))
        {
            Assert.Empty(r.RelayedBy);
            Assert.Equal(RelayProof.None, r.Proof);
        }
        else
        {
            Assert.Equal(server.ExpectedRelayedBy.Order(), r.RelayedBy.Order());
            Assert.Equal(RelayProof.RecipientAccepted, r.Proof);
        }

        Assert.False(string.IsNullOrWhiteSpace(r.Reason), context);
        Assert.True(c.Keywords.Any(k => r.Reason.Contains(k, StringComparison.OrdinalIgnoreCase)),
            $"the reason names none of [{string.Join(", ", c.Keywords)}]. {context}");
        Assert.DoesNotContain('\r', r.Reason);
        Assert.DoesNotContain('\n', r.Reason);
        if (c.Code is { } code) Assert.True(code == r.ReasonCode, $"expected ReasonCode {code}. {context}");

        Assert.True(r.BytesReceived <= MaxBytesPerHost, $"read {r.BytesReceived} bytes, budget {MaxBytesPerHost}. {context}");

        CaseSpecific(c, r, context);
    }

    private static void CaseSpecific(HostileCase c, RelayTestResult r, string context)
    {
        switch (c.Server)
        {
            case "hostile-huge-ehlo":
                // The battery ran: every test got a real refusal.
                Assert.Contains("PIPELINING", r.Extensions);
                Assert.All(r.Tests, t => Assert.True(t.ReplyCode >= 500, $"{t}. {context}"));
                break;
            case "hostile-tls-garbage" or "hostile-tls-reset" when c.Tls == TlsMode.Auto:
                Assert.StartsWith("None", r.Tls);
                Assert.Contains("handshake", r.Tls, StringComparison.OrdinalIgnoreCase);
                Assert.Contains(r.Transcript, t => t.Direction == "C" && t.Text == "STARTTLS");
                break;
            case "hostile-tls-expired":
                Assert.StartsWith("TLSv1.", r.Tls);
                Assert.True(r.Tls.Contains("RemoteCertificateChainErrors", StringComparison.Ordinal) || r.Tls.Contains("expired", StringComparison.OrdinalIgnoreCase), context);
                break;
            case "hostile-tls-wrong-name":
                Assert.StartsWith("TLSv1.", r.Tls);
                Assert.Contains("RemoteCertificateNameMismatch", r.Tls);
                break;
            case "hostile-rset-refused":
                // A refused RSET must not poison the next test: no test is decided by the 503 that follows it.
                Assert.All(r.Tests, t => Assert.True(t.MailReplyCode != 503 && t.ReplyCode != 503, $"{t}. {context}"));
                Assert.All(r.Tests, t => Assert.True(t.ReplyCode >= 500, $"{t}. {context}"));
                break;
            case "hostile-forward-251":
                Assert.All(r.Tests, t => Assert.Equal(251, t.ReplyCode));
                break;
            case "hostile-injection":
            case "hostile-binary":
                Assert.All(r.Transcript, t =>
                {
                    Assert.DoesNotContain('\r', t.Text);
                    Assert.DoesNotContain('\n', t.Text);
                    Assert.DoesNotContain('\0', t.Text);
                    Assert.False(t.Text.StartsWith("X-Injected", StringComparison.OrdinalIgnoreCase), t.Text);
                    Assert.False(t.Text.StartsWith("Subject:", StringComparison.OrdinalIgnoreCase), t.Text);
                });
                Assert.All(r.Tests, t => Assert.True(t.Text is null || t.Text.IndexOfAny(['\r', '\n', '\0']) < 0, t.Text));
                Assert.True(r.Banner is null || r.Banner.IndexOfAny(['\r', '\n', '\0']) < 0, r.Banner);
                Assert.DoesNotContain(r.TranscriptText.Split(Environment.NewLine), l => l.StartsWith("X-Injected", StringComparison.OrdinalIgnoreCase));
                break;
        }
    }
}
