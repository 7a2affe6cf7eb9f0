using System.Net;
using Omr.Engine.Report;
using Omr.Engine.Rules;
using Omr.Engine.Service;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Report;

/// <summary>The morning report's "Open relays by software": the open cases counted per product and version, Unknown last, each with its product's fix; the open rows tagged.</summary>
public class SoftwareReportTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 2, 0, 0, TimeSpan.Zero);

    private static RelaySoftware Sw(string product, string? version = null, SoftwareConfidence confidence = SoftwareConfidence.Product)
        => new() { Product = product, Version = version, Confidence = version is null ? confidence : SoftwareConfidence.Version, Evidence = "the greeting names " + product };

    private static readonly RelaySoftware Unknown = new() { Product = RelaySoftware.UnknownProduct, Confidence = SoftwareConfidence.Unknown, Evidence = "nothing" };

    private static RelayTestResult R(int n, RelayVerdict v, DateTimeOffset t, RelaySoftware? software) => new()
    {
        Target = "c" + n + ".example", Domain = "c" + n + ".example", ComputerName = "mx.c" + n + ".example", Address = "192.0.2." + n, Port = 25,
        Verdict = v, ReasonCode = v == RelayVerdict.Open ? RelayReasonCode.RelayAccepted : v == RelayVerdict.Closed ? RelayReasonCode.AllRefused : RelayReasonCode.ClientRefused,
        Reason = v + ".", RelayedBy = v == RelayVerdict.Open ? new[] { "percent-hack-ip" } : Array.Empty<string>(), ProbeId = "omr-c" + n + "-" + Guid.NewGuid().ToString("N")[..8],
        StartTime = t, IsMxAddress = true, MxHosts = new[] { "mx.c" + n + ".example" }, Proof = RelayProof.RecipientAccepted, Software = software,
    };

    private static void Scan(string path, DateTimeOffset now, params RelayTestResult[] results)
    {
        using var rec = ScanRecorder.Open(path, "Test-OpenRelay", null, 400, null, _ => { }, _ => { }, () => now);
        foreach (var r in results) rec.Record(r);
        rec.End("Completed");
    }

    /// <summary>
    /// Day 0: Postfix 3.7.1 twice, Postfix without a version, "postfix" as another server wrote it, Exim 4.96, Exchange (shut
    /// out on day 1: the case keeps Exchange), one Unknown, one recorded before schema version 4 (no software), one Closed
    /// Postfix (not open: not counted). Day 1: everything again, and a newly open Haraka.
    /// </summary>
    private static MonitorReportFiles Make()
    {
        var path = Path.Combine(EvidenceTestData.TempDir(), "omr.db");
        RelayTestResult[] Day(DateTimeOffset t, bool shutOut) => new[]
        {
            R(1, RelayVerdict.Open, t, Sw("Postfix", "3.7.1")), R(2, RelayVerdict.Open, t, Sw("Postfix", "3.7.1")), R(3, RelayVerdict.Open, t, Sw("Postfix", confidence: SoftwareConfidence.Inferred)),
            R(4, RelayVerdict.Open, t, Sw("postfix")), R(5, RelayVerdict.Open, t, Sw("Exim", "4.96")),
            shutOut ? R(6, RelayVerdict.Inconclusive, t, Unknown) : R(6, RelayVerdict.Open, t, Sw(SoftwareSignatures.Exchange)),
            R(7, RelayVerdict.Open, t, Unknown), R(8, RelayVerdict.Open, t, null), R(9, RelayVerdict.Closed, t, Sw("Postfix", "3.7.1")),
        };
        Scan(path, T0, Day(T0, shutOut: false));
        Scan(path, T0.AddDays(1), Day(T0.AddDays(1), shutOut: true).Append(R(10, RelayVerdict.Open, T0.AddDays(1), Sw(SoftwareSignatures.Haraka))).ToArray());
        return MonitorReport.Render(path, new ReportRunFacts { Started = T0.AddDays(1) }, T0.AddDays(1).AddHours(1), TimeSpan.FromDays(7));
    }

    private static readonly Lazy<MonitorReportFiles> Shared = new(Make);

    [Fact]
    public void The_open_cases_are_counted_per_product_and_version_most_cases_first_and_Unknown_last()
    {
        var r = Shared.Value.Report;
        Assert.Equal(9, r.NewlyOpen.Count + r.StillOpen.Count);
        Assert.Equal(new[] { ("Postfix 3.7.1", 2), ("Postfix", 2), ("Exim 4.96", 1), ("Haraka", 1), ("Microsoft Exchange", 1), ("Unknown", 2) },
            r.BySoftware.Select(g => (g.Label, g.Count)));
        Assert.Equal(r.NewlyOpen.Count + r.StillOpen.Count, r.BySoftware.Sum(g => g.Count));
        Assert.Same(Remediations.For("Postfix"), r.BySoftware[0].Fix);
        Assert.Same(Remediations.For(SoftwareSignatures.Exchange), r.BySoftware[4].Fix);
        Assert.Same(Remediations.Other, r.BySoftware[5].Fix);
        Assert.True(r.BySoftware[5].IsUnknown);
        Assert.Equal("In main.cf, then \"postfix reload\"", r.BySoftware[0].Headline);
        var exchange = r.StillOpen.Single(c => c.Domain == "c6.example");
        Assert.True(exchange.ShutOut);
        Assert.Equal("Microsoft Exchange", exchange.KnownSoftware); // the software its open result showed
    }

    [Fact]
    public void The_html_has_the_section_with_each_product_s_fix_and_tags_the_open_rows()
    {
        var html = Shared.Value.Html;
        var at = html.IndexOf("<h2 id=\"by-software\">Open relays by software (9)</h2>", StringComparison.Ordinal);
        Assert.True(at > html.IndexOf("<h2 id=\"still-open\">", StringComparison.Ordinal), "after the open cases");
        var section = html[at..html.IndexOf("<h2 id=\"inconclusive\">", StringComparison.Ordinal)];
        Assert.Contains("<tr><th>Software</th><th class=\"num\">Open cases</th><th>Fix</th></tr>", section);
        var rows = section.Split("<tr><td class=\"name\">").Skip(1).ToList();
        Assert.Equal(new[] { "Postfix 3.7.1", "Postfix", "Exim 4.96", "Haraka", "Microsoft Exchange", "Unknown" }, rows.Select(x => x[..x.IndexOf('<')]));
        var postfix = Remediations.For("Postfix")!;
        Assert.Contains("<td class=\"num\">2</td><td class=\"reason\"><details><summary>Postfix: " + WebUtility.HtmlEncode("In main.cf, then \"postfix reload\"") + "</summary><div>"
            + WebUtility.HtmlEncode(postfix.Lines[0]), rows[0]);
        Assert.Contains(WebUtility.HtmlEncode(postfix.Note), rows[0]);
        Assert.Contains("<td class=\"num\">2</td><td class=\"reason\">" + WebUtility.HtmlEncode(Remediations.Other.Title + ": " + Remediations.Other.Intro) + "</td>", rows[5]); // no lines: no details
        // Each open row is tagged with its known software (the confidence and evidence on hover); a closed row is not.
        Assert.Contains("<span class=\"tag software\" title=\"Version: the greeting names Postfix\">Postfix 3.7.1</span>", html);
        Assert.Contains(">Haraka</span>", html[html.IndexOf("<h2 id=\"newly-open\">", StringComparison.Ordinal)..html.IndexOf("<h2 id=\"fixed\">", StringComparison.Ordinal)]);
        Assert.Equal(7, html.Split("<span class=\"tag software\"").Length - 1); // 9 open, 2 of them Unknown
    }

    [Fact]
    public void The_text_summary_lists_the_products_with_their_fix()
    {
        var text = Shared.Value.Text;
        var at = text.IndexOf("\nOpen relays by software (9):\n", StringComparison.Ordinal);
        Assert.True(at > text.IndexOf("Still open:", StringComparison.Ordinal), text);
        var lines = text[(at + 1)..].Split('\n').Skip(1).Take(7).ToList();
        Assert.Equal("  Postfix 3.7.1: 2 - In main.cf, then \"postfix reload\" (the lines are in the HTML report)", lines[0]);
        Assert.StartsWith("  Postfix: 2 - In main.cf", lines[1]);
        Assert.StartsWith("  Exim 4.96: 1 - Relay only for your own hosts and authenticated users", lines[2]);
        Assert.StartsWith("  Haraka: 1 - ", lines[3]);
        Assert.StartsWith("  Microsoft Exchange: 1 - An anonymous receive connector must not grant relay. Find it", lines[4]);
        Assert.Equal("  Unknown: 2 - " + Remediations.Other.Intro, lines[5]);
        Assert.Equal(string.Empty, lines[6]);
        Assert.Contains("  c10.example mx.c10.example [192.0.2.10]:25 (Haraka): Open.", text); // newly open, tagged
        Assert.Contains("  c1.example mx.c1.example [192.0.2.1]:25, open 1.0 days, Postfix 3.7.1", text);
    }

    [Fact]
    public void Without_software_recorded_for_any_open_case_the_section_is_left_out()
    {
        var cases = new[] { new ReportCase { Domain = "a.example", Verdict = RelayVerdict.Open }, new ReportCase { Domain = "b.example", Verdict = RelayVerdict.Open } };
        Assert.Empty(ReportFigures.BySoftware(cases));
        Assert.Empty(ReportFigures.BySoftware(Array.Empty<ReportCase>()));
        var r = new RelayReport { GeneratedAt = T0, StillOpen = cases, BySoftware = ReportFigures.BySoftware(cases) };
        Assert.DoesNotContain("by-software", RelayReportHtml.Render(r));
        Assert.DoesNotContain("by software", RelayReportText.Render(r));
        // One case with its software recorded: the others count as Unknown.
        cases[0].Software = Sw("Exim");
        Assert.Equal(new[] { ("Exim", 1), ("Unknown", 1) }, ReportFigures.BySoftware(cases).Select(g => (g.Label, g.Count)));
    }
}
