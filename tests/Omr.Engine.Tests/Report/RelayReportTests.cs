using System.Text.RegularExpressions;
using Omr.Engine.Notices;
using Omr.Engine.Report;
using Omr.Engine.Service;
using Omr.Engine.State;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Report;

/// <summary>
/// The morning report over a real state file written by the real engine steps: seven nightly scans (two of them
/// older than 30 and 90 days), cases that open, stay open, get fixed, hidden, shut out and unconfirmed, notices, a
/// reminder and a follow-up.
/// </summary>
public class RelayReportTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 2, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = T0.AddDays(4).AddHours(1);
    private static readonly TimeSpan Escalate = TimeSpan.FromDays(1);
    private const string HostileReason = "Open: <img src=x onerror=alert(1)></td><script>alert('x')</script> accepted. Second sentence with more detail that only the details show.";
    private const string HostileHost = "mx.<i>evil</i>.example";

    private sealed class History
    {
        public string Path = string.Empty;
        public readonly Dictionary<string, RelayTestResult> Last = new();
    }

    private static RelayTestResult R(string key, RelayVerdict v, DateTimeOffset t, RelayReasonCode? code = null, string? reason = null, string? host = null) => new()
    {
        Target = key + ".example", Domain = key + ".example", ComputerName = host ?? "mx." + key + ".example", Address = "192.0.2." + (key[0] - 'a' + 10), Port = 25,
        Verdict = v, ReasonCode = code ?? (v == RelayVerdict.Open ? RelayReasonCode.RelayAccepted : RelayReasonCode.AllRefused),
        Reason = reason ?? v + " for " + key + ".",
        RelayedBy = v == RelayVerdict.Open ? new[] { "percent-hack-ip" } : Array.Empty<string>(),
        ProbeId = "omr-" + key + "-" + Guid.NewGuid().ToString("N")[..8], StartTime = t, IsMxAddress = true, MxHosts = new[] { "mx." + key + ".example" },
        Proof = v == RelayVerdict.Open && key == "alpha" ? RelayProof.Delivered : RelayProof.RecipientAccepted,
    };

    /// <summary>What each key shows in each scan (day 0..4), and two old scans at day -100 and -50.</summary>
    private static History Make()
    {
        var h = new History { Path = System.IO.Path.Combine(EvidenceTestData.TempDir(), "report.db") };
        void Scan(int day, IEnumerable<RelayTestResult> results, IReadOnlyList<string>? providerMx = null)
        {
            var now = T0.AddDays(day);
            using var rec = ScanRecorder.Open(h.Path, "Test-OpenRelay", null, 400, providerMx, _ => { }, _ => { }, () => now);
            foreach (var r in results) { rec.Record(r); h.Last[r.Domain!.Split('.')[0]] = r; }
            rec.End("Completed");
        }
        RelayTestResult At(int day, string key, RelayVerdict v, RelayReasonCode? code = null, string? reason = null, string? host = null)
            => R(key, v, T0.AddDays(day).AddMinutes(key[0] - 'a'), code, reason, host);

        Scan(-100, new[] { At(-100, "echo", RelayVerdict.Closed) });
        Scan(-50, new[] { At(-50, "echo", RelayVerdict.Closed) });
        // alpha: open all along (noticed, reminded). bravo: fixed on day 2. charlie: open day 1, hidden day 4.
        // delta: open day 2, shut out day 4. foxtrot: newly open day 4 (hostile reason and host). golf: fixed day 4.
        // juliet: open day 3, unreachable day 4. hotel, india: inconclusive day 4 (greylisted); kilo: temporary failure.
        Scan(0, new[] { At(0, "alpha", RelayVerdict.Open), At(0, "bravo", RelayVerdict.Open), At(0, "echo", RelayVerdict.Closed), At(0, "foxtrot", RelayVerdict.Closed, host: HostileHost), At(0, "golf", RelayVerdict.Open) });
        Scan(1, new[] { At(1, "alpha", RelayVerdict.Open), At(1, "bravo", RelayVerdict.Open), At(1, "charlie", RelayVerdict.Open), At(1, "foxtrot", RelayVerdict.Closed, host: HostileHost), At(1, "golf", RelayVerdict.Open) });
        Scan(2, new[] { At(2, "alpha", RelayVerdict.Open), At(2, "bravo", RelayVerdict.Closed), At(2, "charlie", RelayVerdict.Open), At(2, "delta", RelayVerdict.Open), At(2, "golf", RelayVerdict.Open) });
        Scan(3, new[] { At(3, "alpha", RelayVerdict.Open), At(3, "charlie", RelayVerdict.Open), At(3, "delta", RelayVerdict.Open), At(3, "golf", RelayVerdict.Open), At(3, "juliet", RelayVerdict.Open) });
        var hidden = At(4, "charlie", RelayVerdict.Unreachable, RelayReasonCode.ConnectionRefused);
        hidden.IsMxAddress = false;
        hidden.MxHosts = new[] { "mx1.filter.example.net" };
        var day4 = new[]
        {
            At(4, "alpha", RelayVerdict.Open), hidden,
            At(4, "delta", RelayVerdict.Inconclusive, RelayReasonCode.ClientRefused, "Shut out: 554 your address is listed. More text."),
            At(4, "foxtrot", RelayVerdict.Open, reason: HostileReason, host: HostileHost), At(4, "golf", RelayVerdict.Closed),
            At(4, "juliet", RelayVerdict.Unreachable, RelayReasonCode.ConnectTimeout),
            At(4, "hotel", RelayVerdict.Inconclusive, RelayReasonCode.Greylisted, "Greylisted: 451 try again later. The server asked to come back."),
            At(4, "india", RelayVerdict.Inconclusive, RelayReasonCode.Greylisted, "Greylisted too."),
            At(4, "kilo", RelayVerdict.Inconclusive, RelayReasonCode.TemporaryFailure, "Temporary failure."),
        };
        // The others as hosts given directly: the provider note of -ProviderMx is for MX addresses, and the reasons stay as written.
        foreach (var direct in day4.Where(x => x != hidden)) direct.IsMxAddress = null;
        Scan(4, day4, new[] { "*.filter.example.net" });

        using var s = StateStore.Open(h.Path);
        void Notice(string key, DateTimeOffset t, NoticeKind kind = NoticeKind.Notice, DateTimeOffset? caseSince = null)
        {
            var r = h.Last[key];
            var host = new NoticeHostKey(r.Domain!, r.ComputerName, r.Address!, r.Port, r.ProbeId);
            var run = "n-" + key + t.Ticks;
            if (kind == NoticeKind.Notice)
            {
                var (reserved, _) = s.Notices.Reserve(new[] { host }, run, t, TimeSpan.FromDays(7), false);
                Assert.Single(reserved);
            }
            s.Notices.Commit(new[] { host }, run, NoticeRecord.Sent, "<" + run + "@x>", run, new[] { "postmaster@" + key + ".example" }, Array.Empty<string>(), t, kind, caseSince);
        }
        Notice("alpha", T0.AddHours(1));
        Notice("alpha", T0.AddDays(2).AddHours(1), NoticeKind.Reminder, T0);
        Notice("delta", T0.AddDays(3.5));
        Notice("foxtrot", T0.AddDays(4).AddMinutes(30));
        Notice("golf", T0.AddDays(4).AddMinutes(40), NoticeKind.Resolved, T0);
        s.Results.BeginRun("Send-RelayNotice", null, T0.AddDays(4).AddMinutes(50)); // not a scan: never the current run
        return h;
    }

    private static readonly Lazy<History> Shared = new(Make);

    private static RelayReport Build(ReportRunFacts? facts = null)
    {
        using var s = StateStore.Open(Shared.Value.Path, readOnly: true);
        return RelayReportBuilder.Build(s, facts ?? Facts(), Now, Escalate);
    }

    private static ReportRunFacts Facts() => new()
    {
        Started = T0.AddDays(4).AddMinutes(-5), Ended = Now, Title = "Open relay report, <NOC> & co",
        Errors = new[] { new ReportError("Evidence", "EvidenceMailboxFailed", "imap.example.net", "The IMAP server does not support <STARTTLS>. Use -Security None.") },
        EvidenceLinks = new Dictionary<string, string>
        {
            [Shared.Value.Last["alpha"].ProbeId] = "evidence/alpha/report.html",
            [Shared.Value.Last["foxtrot"].ProbeId] = "/tmp/omr evidence/foxtrot/report.html",
            [Shared.Value.Last["delta"].ProbeId] = "javascript:alert(1)",
        },
    };

    [Fact]
    public void The_headline_numbers_count_the_current_scan_and_the_open_cases()
    {
        var r = Build();
        var c = r.Counts;
        Assert.NotNull(r.CurrentRun);
        Assert.Equal(T0.AddDays(4), r.CurrentRun!.Started);
        Assert.Equal(9, c.Tested);
        Assert.Equal(2, c.OpenNow);          // alpha, foxtrot
        Assert.Equal(1, c.OpenUnproven);     // foxtrot: alpha's relay was proven by delivery
        Assert.Equal(1, c.NewlyOpen);        // foxtrot
        Assert.Equal(1, c.StillOpen);        // alpha
        Assert.Equal(1, c.Fixed);            // golf
        Assert.Equal(1, c.Hidden);           // charlie
        Assert.Equal(1, c.ShutOut);          // delta
        Assert.Equal(1, c.Unconfirmed);      // juliet
        Assert.Equal(4, c.Inconclusive);     // delta, hotel, india, kilo
        Assert.Equal(1, c.RemindersDue);     // alpha: reminded on day 2; delta was noticed hours ago
        Assert.Equal(1, c.Errors);
        Assert.Equal(1, c.NoticesSent);
        Assert.Equal(0, c.RemindersSent);
        Assert.Equal(1, c.FollowUpsSent);
        // The reminder figure is the reminder rule's: the same cases Send-RelayNotice -EscalateAfter would remind.
        using var s = StateStore.Open(Shared.Value.Path, readOnly: true);
        Assert.Equal(c.RemindersDue, s.Notices.FollowUps(NoticeKind.Reminder, Now, Escalate).Count);
    }

    [Fact]
    public void The_trend_has_one_point_per_scan_in_90_days_with_its_open_count_and_the_median_days_to_fix()
    {
        var r = Build();
        Assert.Equal(new[] { -50.0, 0, 1, 2, 3, 4 }, r.Trend.Select(p => Math.Round((p.Started - T0).TotalDays)));
        Assert.Equal(new[] { 0, 3, 4, 4, 5, 2 }, r.Trend.Select(p => p.Open));
        Assert.Equal(new[] { 0, 3, 1, 1, 1, 1 }, r.Trend.Select(p => p.NewlyOpen));
        Assert.Equal(new[] { 0, 0, 0, 1, 0, 1 }, r.Trend.Select(p => p.Fixed));
        Assert.Equal(new[] { 0, 0, 0, 0, 0, 1 }, r.Trend.Select(p => p.Hidden));
        Assert.Equal(5, r.ShortTrend.Count);
        // bravo fixed after 2 days, charlie hidden after 3, golf fixed after 4.
        Assert.Equal(3, r.CasesClosed);
        Assert.Equal(3.0, r.MedianDaysToFix!.Value, 2);
    }

    [Fact]
    public void Sections_hold_what_changed_then_what_is_still_open_oldest_first()
    {
        var r = Build();
        Assert.Equal(new[] { "foxtrot.example" }, r.NewlyOpen.Select(x => x.Domain));
        Assert.Equal(new[] { "golf.example" }, r.Fixed.Select(x => x.Domain));
        Assert.Equal(4.0, r.Fixed[0].DaysOpen!.Value, 1);
        Assert.Equal(new[] { "charlie.example" }, r.Hidden.Select(x => x.Domain));
        Assert.Equal(new[] { "alpha.example", "delta.example", "juliet.example" }, r.StillOpen.Select(x => x.Domain));
        var alpha = r.StillOpen[0];
        Assert.Equal(T0, alpha.OpenSince);
        Assert.Equal(4.04, alpha.DaysOpen!.Value, 2);
        Assert.Equal(T0.AddHours(1), alpha.NoticedAt);
        Assert.Equal(T0.AddDays(2).AddHours(1), alpha.LastReminder);
        Assert.True(alpha.ReminderDue);
        Assert.Equal(RelayProof.Delivered, alpha.Proof);
        Assert.Equal("evidence/alpha/report.html", alpha.EvidenceLink);
        Assert.True(r.StillOpen[1].ShutOut);
        Assert.False(r.StillOpen[1].ReminderDue);
        Assert.True(r.StillOpen[2].NotConfirmed);
        Assert.False(r.StillOpen[2].ShutOut);
        Assert.Equal(new[] { (RelayReasonCode.Greylisted, 2), (RelayReasonCode.ClientRefused, 1), (RelayReasonCode.TemporaryFailure, 1) },
            r.Inconclusive.Select(g => (g.ReasonCode, g.Count)));
        Assert.Equal("hotel.example", r.Inconclusive[0].ExampleDomain);
        Assert.Equal("Greylisted: 451 try again later.", r.Inconclusive[0].ReasonShort);
        Assert.Equal(new[] { NoticeKind.Notice, NoticeKind.Resolved }, r.Notices.Select(n => n.Kind));
    }

    [Fact]
    public void Without_a_scan_in_this_run_the_report_says_so_and_still_shows_the_open_cases()
    {
        var r = Build(new ReportRunFacts { Started = Now.AddHours(1) });
        Assert.Null(r.CurrentRun);
        Assert.Equal(0, r.Counts.Tested);
        Assert.Equal(2, r.Counts.OpenNow);
        Assert.Equal(4, r.StillOpen.Count); // nothing is newly open when nothing was scanned
        var html = RelayReportHtml.Render(r);
        Assert.Contains("No scan in this run", html);
        Assert.Contains("No scan in this run", RelayReportText.Render(r));
    }

    [Fact]
    public void The_html_is_self_contained_escaped_and_has_every_section_and_one_circle_per_scan()
    {
        var r = Build();
        var html = RelayReportHtml.Render(r);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<i>evil", html);
        Assert.DoesNotContain("javascript:", html.Replace("javascript:alert(1)</td>", string.Empty, StringComparison.Ordinal)); // shown as text, never a link
        Assert.DoesNotContain("href=\"javascript", html);
        Assert.Contains("&lt;script&gt;", html);
        Assert.Contains("mx.&lt;i&gt;evil&lt;/i&gt;.example", html);
        Assert.Contains("Open relay report, &lt;NOC&gt; &amp; co", html);
        // The only references out of the page are the evidence links given.
        var refs = Regex.Matches(html, "(?:href|src)=\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(new[] { "evidence/alpha/report.html", "file:///tmp/omr%20evidence/foxtrot/report.html" }.OrderBy(x => x), refs.OrderBy(x => x));
        Assert.Empty(Regex.Matches(html, "https?://"));
        foreach (var id in new[] { "newly-open", "fixed", "hidden", "still-open", "inconclusive", "notices", "errors" })
            Assert.Contains("<h2 id=\"" + id + "\">", html);
        // Changes first, then still open.
        Assert.True(html.IndexOf("id=\"newly-open\"", StringComparison.Ordinal) < html.IndexOf("id=\"still-open\"", StringComparison.Ordinal));
        Assert.Equal(6, Svg(html, "trend-90").Count(l => l.Contains("<circle class=\"run\"", StringComparison.Ordinal)));
        Assert.Equal(5, Svg(html, "trend-30").Count(l => l.Contains("<circle class=\"run\"", StringComparison.Ordinal)));
        Assert.Contains("<title>2026-03-05 02:00 UTC: 2 open, 1 newly open, 1 fixed, 1 hidden</title>", html);
        Assert.Contains("Median days to fix: <strong>3.0</strong> over 3 cases", html);
        Assert.Contains("<details><summary>Open: &lt;img src=x onerror=alert(1)&gt;&lt;/td&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; accepted.</summary>", html);
        Assert.Contains("overflow-wrap: anywhere", html);
        Assert.Matches("<span class=\"n\">2</span><span class=\"label\">open now</span>", html);
    }

    [Fact]
    public void An_empty_section_says_None()
    {
        var r = Build();
        r.Fixed = Array.Empty<ReportCase>();
        var html = RelayReportHtml.Render(r);
        var at = html.IndexOf("<h2 id=\"fixed\">", StringComparison.Ordinal);
        Assert.StartsWith("<p class=\"none\">None.</p>", html[(html.IndexOf('\n', at) + 1)..]);
    }

    [Fact]
    public void The_text_summary_is_short_and_has_the_numbers_and_lists()
    {
        var r = Build();
        var text = RelayReportText.Render(r);
        var lines = text.Split('\n');
        Assert.True(lines.Length < 60, text);
        Assert.Contains("Open now:               2 (1 not proven by delivery)", text);
        Assert.Contains("Newly open:             1", text);
        Assert.Contains("Fixed:                  1", text);
        Assert.Contains("Hidden:                 1", text);
        Assert.Contains("Reminders due:          1", text);
        Assert.Contains("Shut out / unconfirmed: 1 / 1", text);
        Assert.Contains("Errors:                 1", text);
        Assert.Contains("Still open: 3, oldest first:", text);
        Assert.Contains("  alpha.example mx.alpha.example [192.0.2.10]:25, open 4.0 days, reminder due", text);
        Assert.Contains("  golf.example mx.golf.example [192.0.2.16]:25, open 4.0 days", text);
        Assert.Contains("  Evidence EvidenceMailboxFailed imap.example.net: The IMAP server does not support <STARTTLS>.", text);
        Assert.DoesNotContain("Second sentence", text);
    }

    [Fact]
    public void Many_cases_keep_the_text_summary_under_68_lines()
    {
        var many = Enumerable.Range(0, 40).Select(i => new ReportCase
        {
            Domain = "d" + i + ".example", Address = "192.0.2.1", Port = 25, Reason = "Open.\nline two", OpenSince = T0, DaysOpen = 1,
            Software = new RelaySoftware { Product = "Product\n" + i, Confidence = SoftwareConfidence.Product },
        }).ToList();
        var r = new RelayReport { GeneratedAt = Now, NewlyOpen = many, Fixed = many, Hidden = many, StillOpen = many, BySoftware = ReportFigures.BySoftware(many), Errors = many.Select(m => new ReportError("Scan", "X", m.Domain, "boom\nsecond line")).ToList() };
        var text = RelayReportText.Render(r);
        Assert.Equal(40, r.BySoftware.Count);
        Assert.True(text.Split('\n').Length <= 68, text);
        Assert.Contains("Open relays by software (40):", text);
        Assert.Contains("... and 34 more in the HTML report", text);
    }

    [Theory]
    [InlineData("Open: the server accepted. The rest.", "Open: the server accepted.")]
    [InlineData("The MX mx.example.net [192.0.2.1] refused.\r\n  Next line. More", "The MX mx.example.net [192.0.2.1] refused.")]
    [InlineData("", "")]
    public void A_short_reason_is_the_first_sentence_on_one_line(string reason, string expected)
        => Assert.Equal(expected, ReportFigures.ShortReason(reason));

    [Fact]
    public void A_short_reason_is_bounded()
    {
        var s = ReportFigures.ShortReason(new string('x', 500));
        Assert.Equal(ReportFigures.ShortReasonChars, s.Length);
        Assert.EndsWith("…", s);
    }

    [Fact]
    public void The_median_of_odd_even_and_no_values()
    {
        Assert.Equal(3, ReportFigures.Median(new double[] { 5, 1, 3 }));
        Assert.Equal(2.5, ReportFigures.Median(new double[] { 4, 1, 3, 2 }));
        Assert.Null(ReportFigures.Median(Array.Empty<double>()));
    }

    /// <summary>The lines of one chart's svg element.</summary>
    private static IEnumerable<string> Svg(string html, string id)
    {
        var start = html.IndexOf("<svg id=\"" + id + "\"", StringComparison.Ordinal);
        Assert.True(start >= 0, id);
        var end = html.IndexOf("</svg>", start, StringComparison.Ordinal);
        return html[start..end].Split('\n');
    }
}
