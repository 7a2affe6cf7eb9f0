using System.Text;
using Omr.Engine.Evidence;
using Omr.Engine.Notices;
using Omr.Engine.Probing;
using Omr.Engine.Tests.Notices;
using Xunit;

namespace Omr.Engine.Tests.Evidence;

/// <summary>The one sanitizer for server text, and each consumer: transcript, transcript.log, report.html, evidence.json, notice.</summary>
public class ServerTextTests
{
    // A banner that tries to reorder what a reader sees (RLO ... PDF) and to forge a second line.
    internal const string HostileBanner = "220 mx.customer.example \u202Egnp.exe\u202C ESMTP\r\n250 forged-line \u2066iso\u2069 \u200Emark\u200F \u061Calm\u2028sep";

    private static readonly char[] Bidi =
    {
        '\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069', '\u200E', '\u200F', '\u061C',
    };

    private static void AssertClean(string text)
    {
        foreach (var c in Bidi) Assert.DoesNotContain(c.ToString(), text, StringComparison.Ordinal); // culture comparison ignores these characters
        Assert.DoesNotContain("\r", text);
        Assert.DoesNotContain("\u2028", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\u202A", "\\u202a")]
    [InlineData("\u202B", "\\u202b")]
    [InlineData("\u202C", "\\u202c")]
    [InlineData("\u202D", "\\u202d")]
    [InlineData("\u202E", "\\u202e")]
    [InlineData("\u2066", "\\u2066")]
    [InlineData("\u2067", "\\u2067")]
    [InlineData("\u2068", "\\u2068")]
    [InlineData("\u2069", "\\u2069")]
    [InlineData("\u200E", "\\u200e")]
    [InlineData("\u200F", "\\u200f")]
    [InlineData("\u061C", "\\u061c")]
    [InlineData("\uFEFF", "\\ufeff")]
    [InlineData("\u2028", "\\u2028")]
    [InlineData("\u2029", "\\u2029")]
    [InlineData("\r", "\\x0d")]
    [InlineData("\n", "\\x0a")]
    [InlineData("\t", "\\x09")]
    [InlineData("\0", "\\x00")]
    [InlineData("\u001b", "\\x1b")]
    [InlineData("\u007f", "\\x7f")]
    [InlineData("\u0085", "\\x85")]
    public void Escapes_each_unsafe_character(string ch, string escaped)
    {
        Assert.Equal("a" + escaped + "b", ServerText.Sanitize("a" + ch + "b"));
        Assert.True(ServerText.IsUnsafe(ch[0]));
    }

    [Theory]
    [InlineData("220 mx.example ESMTP Postfix")]
    [InlineData("Grüße, 日本語, emoji \U0001F600, Arabic \u0645\u0631\u062D\u0628\u0627, Hebrew \u05E9\u05DC\u05D5\u05DD")]
    [InlineData("back\\slash \\x0d stays as typed")]
    public void Leaves_ordinary_text_alone(string text) => Assert.Equal(text, ServerText.Sanitize(text));

    [Fact]
    public void Is_idempotent_and_bounded()
    {
        var once = ServerText.Sanitize(HostileBanner);
        Assert.Equal(once, ServerText.Sanitize(once));
        AssertClean(once);
        Assert.StartsWith("220 mx.customer.example \\u202egnp.exe\\u202c ESMTP\\x0d\\x0a250 forged-line", once);

        var big = new string('x', 5000);
        Assert.Equal(new string('x', 10) + "…[truncated 5000 chars]", ServerText.Sanitize(big, 10));
        Assert.Equal(string.Empty, ServerText.Sanitize(null));
    }

    [Fact]
    public void Transcript_delegates_to_it()
    {
        Assert.Equal(ServerText.Sanitize(HostileBanner, Transcript.MaxEntryLength), Transcript.Sanitize(HostileBanner));
        var t = new Transcript();
        t.Server(HostileBanner);
        var entry = Assert.Single(t.ToArray());
        AssertClean(entry.Text);
        Assert.Contains("\\u202e", entry.Text);
    }

    [Fact]
    public void Bundle_transcript_report_and_json_come_out_clean()
    {
        var dir = EvidenceTestData.TempDir();
        try
        {
            var result = EvidenceTestData.OpenResult("omr-20240506-bidi0000000000000001", proof: RelayProof.Delivered);
            result.Banner = HostileBanner;
            result.Reason = "accepted \u202Eecalper\u202C";
            result.Tests[0].Text = "2.1.5 Ok \u2067x\u2069\r\nBcc: victim@example.com";
            // Raw, as a re-imported or hand-built result could carry it (a live Transcript sanitizes on Add).
            result.Transcript = new[] { new TranscriptEntry(DateTimeOffset.UnixEpoch, "S", HostileBanner) }.Concat(result.Transcript).ToArray();
            var message = EvidenceTestData.Delivered(result.ProbeId);
            // Raw UTF-8, as a server could write it (MimeKit would RFC 2047-encode a value set as text).
            var hostile = new MimeKit.Header("X-Hostile", "x");
            hostile.SetRawValue(Encoding.UTF8.GetBytes(" \u202Etxet\u202C \u200Fmark\r\n"));
            message.Headers.Add(hostile);
            var ev = new RelayEvidence
            {
                Result = result, ProbeId = result.ProbeId, Address = result.Address, Port = 25, Delivered = true, Proof = RelayProof.Delivered,
                Subject = "subject \u202Eevil", Reason = "note \u2066x\u2069",
                Hops = new[] { new ReceivedHop { From = "a\u202Eb", By = "c\u200Fd", Raw = "from a\u202Eb by c\r\nd" } },
            };
            var (folder, files) = EvidenceBundleWriter.Write(new EvidenceBundle { Evidence = ev, Message = EvidenceTestData.Bytes(message), Headers = message.Headers }, dir);

            var log = File.ReadAllText(Path.Combine(folder, EvidenceBundleWriter.TranscriptFile), Encoding.UTF8);
            AssertClean(log);
            Assert.Contains(" S: 220 mx.customer.example \\u202egnp.exe\\u202c ESMTP\\x0d\\x0a250 forged-line", log);
            Assert.DoesNotContain("\n250 forged-line", log);

            var html = File.ReadAllText(Path.Combine(folder, EvidenceBundleWriter.ReportFile), Encoding.UTF8);
            AssertClean(html);
            Assert.Contains("\\u202egnp.exe", html);
            Assert.Contains("X-Hostile: \\u202etxet\\u202c \\u200fmark", html);
            Assert.DoesNotContain("\nBcc: victim", html);

            var json = File.ReadAllText(Path.Combine(folder, EvidenceBundleWriter.JsonFile), Encoding.UTF8);
            AssertClean(json);
            Assert.Contains("\\\\u202egnp.exe", json); // the escape's backslash, JSON-escaped
            Assert.DoesNotContain("\\r\\n250 forged", json);
            Assert.Equal(4, files.Length);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Notice_comes_out_clean()
    {
        var dir = EvidenceTestData.TempDir();
        try
        {
            var ev = NoticeTestData.Delivered(dir, banner: HostileBanner);
            ev.Result.Tests[0].Text = "2.1.5 Ok \u202Eevil\r\nBcc: victim@example.com";
            var notice = Assert.Single(NoticeComposer.Compose(NoticeTestData.Draft(ev), NoticeTestData.Options()));
            var m = NoticeTestData.RoundTrip(notice.Message);
            foreach (var text in new[] { m.TextBody, m.HtmlBody, m.Subject, string.Join("\n", m.Headers.Select(h => h.ToString())) })
            {
                AssertClean(text ?? throw new Xunit.Sdk.XunitException("a part of the notice is missing"));
                Assert.DoesNotContain("\nBcc: victim", text.Replace("\r\n", "\n"));
            }
            Assert.Contains("\\u202egnp.exe\\u202c", m.TextBody);
            Assert.Contains("\\u202egnp.exe\\u202c", m.HtmlBody);
            Assert.Empty(m.Bcc);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
