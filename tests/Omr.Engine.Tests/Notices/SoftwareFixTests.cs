#nullable disable warnings
using System.Text.RegularExpressions;
using Omr.Engine.Evidence;
using Omr.Engine.Notices;
using Omr.Engine.Rules;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Notices;

/// <summary>The notice and the evidence report put the fix for the server's own software first; Unknown keeps every fix.</summary>
public class SoftwareFixTests
{
    private static readonly string[] Titles = Remediations.All.Select(r => r.Title).ToArray();

    private static RelayEvidence Host(string banner, string address = "192.0.2.25", string host = "mx.customer.example", bool unknown = false)
    {
        var ev = NoticeTestData.Delivered(EvidenceTestData.TempDir(), "p-" + address, address, host, banner);
        if (unknown)
        {
            // No product's wording anywhere: nothing to go by.
            ev.Result.VerificationReply = "250 queued";
            foreach (var t in ev.Result.Tests) t.Text = "accepted";
        }
        ev.Result.Software = null;
        return ev;
    }

    private static (string Text, string Html) Compose(params RelayEvidence[] hosts)
    {
        var m = NoticeTestData.RoundTrip(Assert.Single(NoticeComposer.Compose(NoticeTestData.Draft(hosts), NoticeTestData.Options())).Message);
        return (m.TextBody, m.HtmlBody);
    }

    /// <summary>The fix titles of the text notice's HOW TO FIX IT section, in order.</summary>
    private static List<string> FixOrder(string text)
    {
        var start = text.IndexOf("HOW TO FIX IT", StringComparison.Ordinal);
        var end = text.IndexOf("IF YOU CANNOT FIX IT AT ONCE", StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start);
        var section = text.Substring(start, end - start);
        return section.Split('\n').Select(l => l.TrimEnd('\r'))
            .Select(l => Titles.FirstOrDefault(t => l.StartsWith(t + ":", StringComparison.Ordinal) || l.StartsWith(t + " -- for ", StringComparison.Ordinal)))
            .Where(t => t != null).ToList();
    }

    [Fact]
    public void A_Postfix_server_gets_the_Postfix_fix_first_and_every_other_after_it()
    {
        var (text, html) = Compose(Host("mx.customer.example ESMTP Postfix (Debian/GNU)"));
        var order = FixOrder(text);
        Assert.Equal("Postfix", order[0]);
        Assert.Equal(Titles.Length, order.Count);
        Assert.Contains("Postfix -- for mx.customer.example [192.0.2.25]:25 (Postfix, as its greeting says):", text);
        Assert.Contains("Software:    Postfix", text);
        Assert.Contains("if your server does not run the\nsoftware named above", text.Replace("\r\n", "\n"));
        Assert.Contains("<tr><th>Software</th><td>Postfix</td></tr>", html);
    }

    [Fact]
    public void An_Exim_server_gets_the_Exim_fix_before_Postfix_in_both_versions()
    {
        var (text, html) = Compose(Host("mx.customer.example ESMTP Exim 4.96 Mon, 06 May 2024 10:00:00 +0000"));
        var order = FixOrder(text);
        Assert.Equal("Exim", order[0]);
        Assert.Equal("Postfix", order[1]);
        Assert.Contains("(Exim 4.96, as its greeting says)", text);
        Assert.Contains("hostlist relay_from_hosts = <; 127.0.0.1 ; ::1", text);
        var fixes = html.Substring(html.IndexOf("<h2>How to fix it</h2>", StringComparison.Ordinal));
        Assert.Equal("<h3>Exim</h3>", Regex.Match(fixes, "<h3>[^<]*</h3>").Value);
        Assert.True(fixes.IndexOf("<h3>Exim</h3>", StringComparison.Ordinal) < fixes.IndexOf("<h3>Postfix</h3>", StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_software_keeps_every_fix_in_the_usual_order_and_names_no_server()
    {
        var (text, html) = Compose(Host("mx.customer.example ESMTP", unknown: true));
        Assert.Equal(Titles, FixOrder(text));
        Assert.Contains("Software:    Unknown", text);
        Assert.DoesNotContain(" -- for ", text);
        Assert.DoesNotContain("software named above", text);
        Assert.DoesNotContain("software named above", html);
        foreach (var line in new[] { "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination", "Ms-Exch-SMTP-Accept-Any-Recipient", "relay_from_hosts", "promiscuous_relay" })
        {
            Assert.Contains(line, text);
            Assert.Contains(line, html);
        }
    }

    [Fact]
    public void Two_servers_with_different_software_each_get_their_fix_first()
    {
        var (text, _) = Compose(Host("mx1.customer.example ESMTP Sendmail 8.17.1.9/8.17.1.9; Mon, 6 May 2024", "192.0.2.25", "mx1.customer.example"),
            Host("mx2.customer.example ESMTP OpenSMTPD", "192.0.2.26", "mx2.customer.example"));
        var order = FixOrder(text);
        Assert.Equal(new[] { "Sendmail", "OpenSMTPD", "Postfix" }, order.Take(3));
        Assert.Contains("Sendmail -- for mx1.customer.example [192.0.2.25]:25 (Sendmail 8.17.1.9, as its greeting says):", text);
        Assert.Contains("OpenSMTPD -- for mx2.customer.example [192.0.2.26]:25 (OpenSMTPD, as its greeting says):", text);
    }

    [Fact]
    public void A_server_known_only_from_its_replies_says_so()
    {
        // The test data's replies are Postfix's own ("250 2.1.5 Ok", "Ok: queued as").
        var (text, _) = Compose(Host("mx.customer.example ESMTP"));
        Assert.Equal("Postfix", FixOrder(text)[0]);
        Assert.Contains("(Postfix, from the wording of its replies)", text);
    }

    [Fact]
    public void The_evidence_report_shows_the_software_and_its_fix_alone_or_every_fix()
    {
        var exim = Host("mx.customer.example ESMTP Exim 4.96");
        var html = File.ReadAllText(Path.Combine(exim.BundlePath, "report.html"));
        Assert.Contains("<tr><th>Software</th><td>Exim 4.96 (Version): named:", html);
        var fixes = html.Substring(html.IndexOf("<h2>How to fix it</h2>", StringComparison.Ordinal));
        Assert.Contains("<h3>Exim</h3>", fixes);
        Assert.DoesNotContain("<h3>Postfix</h3>", fixes);
        Assert.Contains("The notice also has the fixes for Postfix, Microsoft Exchange", fixes);

        var unknown = Host("mx.customer.example ESMTP", unknown: true);
        var (folder, _) = EvidenceBundleWriter.Write(new EvidenceBundle { Evidence = unknown }, EvidenceTestData.TempDir());
        var all = File.ReadAllText(Path.Combine(folder, "report.html"));
        Assert.Contains("<tr><th>Software</th><td>Unknown (Unknown): nothing the server sent", all);
        foreach (var t in Titles) Assert.Contains("<h3>" + System.Net.WebUtility.HtmlEncode(t) + "</h3>", all);
    }
}
