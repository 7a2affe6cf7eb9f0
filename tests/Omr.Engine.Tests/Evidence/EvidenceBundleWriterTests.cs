using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MimeKit;
using Omr.Engine.Evidence;
using Xunit;

namespace Omr.Engine.Tests.Evidence;

public sealed class EvidenceBundleWriterTests : IDisposable
{
    private readonly string _out = EvidenceTestData.TempDir();

    public void Dispose()
    {
        try { Directory.Delete(_out, true); } catch (IOException) { }
    }

    private (string Folder, string[] Files, RelayEvidence Evidence, byte[] Message) WriteFor(RelayTestResult result, MimeMessage message)
    {
        var bytes = EvidenceTestData.Bytes(message);
        var ev = new RelayEvidence
        {
            Result = result, ProbeId = result.ProbeId, ComputerName = result.ComputerName, Address = result.Address, Port = result.Port,
            Delivered = true, Proof = RelayProof.Delivered, Hops = ReceivedChainParser.Parse(message.Headers), Subject = message.Subject, MessageId = message.MessageId,
        };
        var (folder, files) = EvidenceBundleWriter.Write(new EvidenceBundle { Evidence = ev, Message = bytes, Headers = message.Headers }, _out);
        return (folder, files, ev, bytes);
    }

    [Theory]
    [InlineData("../../etc")]
    [InlineData("..\\..\\windows\\system32")]
    [InlineData("evil\r\nhost\u0000name\u001b[31m")]
    [InlineData("/abs/path")]
    [InlineData("C:\\x")]
    [InlineData("..")]
    [InlineData("a:b*c?d\"e<f>g|h")]
    public void HostileHostNamesGiveSafeFolderNames(string host)
    {
        var result = EvidenceTestData.OpenResult("omr-20240506-abcdefabcdefabcdefab", host: host, address: "2001:db8::1");
        result.ComputerName = host;
        var (folder, files, _, _) = WriteFor(result, EvidenceTestData.Delivered(result.ProbeId));
        Assert.Equal(Path.GetFullPath(_out), Path.GetDirectoryName(folder));
        var name = Path.GetFileName(folder);
        Assert.Matches("^[A-Za-z0-9._-]+$", name);
        Assert.DoesNotContain("..", name);
        Assert.True(name.Length <= EvidenceBundleWriter.MaxFolderNameLength);
        Assert.StartsWith("20240506-100000_", name);
        Assert.Equal(4, files.Length);
        Assert.All(files, f => Assert.Equal(folder, Path.GetDirectoryName(f)));
    }

    [Fact]
    public void LongNamesAreBounded()
    {
        var name = EvidenceBundleWriter.FolderName(DateTimeOffset.UtcNow, new string('a', 5000), new string('1', 500), 25, new string('z', 500));
        Assert.True(name.Length <= EvidenceBundleWriter.MaxFolderNameLength);
    }

    [Fact]
    public void SecondBundleForTheSameProbeDoesNotOverwrite()
    {
        var result = EvidenceTestData.OpenResult("omr-20240506-abcdefabcdefabcdef01");
        var a = WriteFor(result, EvidenceTestData.Delivered(result.ProbeId));
        var b = WriteFor(result, EvidenceTestData.Delivered(result.ProbeId));
        Assert.NotEqual(a.Folder, b.Folder);
        Assert.EndsWith("_2", b.Folder);
    }

    [Fact]
    public void JsonHashesMatchTheFiles()
    {
        var result = EvidenceTestData.OpenResult("omr-20240506-abcdefabcdefabcdef02");
        var (folder, _, _, message) = WriteFor(result, EvidenceTestData.Delivered(result.ProbeId));
        Assert.Equal(message, File.ReadAllBytes(Path.Combine(folder, "message.eml")));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "evidence.json")));
        var root = doc.RootElement;
        Assert.Equal(result.ProbeId, root.GetProperty("probeId").GetString());
        Assert.True(root.GetProperty("delivered").GetBoolean());
        Assert.Equal("Delivered", root.GetProperty("proof").GetString());
        Assert.Equal("192.0.2.25", root.GetProperty("hops")[0].GetProperty("ip").GetString());
        Assert.Equal("plain", root.GetProperty("tests")[0].GetProperty("name").GetString());
        var files = root.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(new[] { "transcript.log", "message.eml", "report.html" }, files.Select(f => f.GetProperty("name").GetString()));
        foreach (var f in files)
        {
            var bytes = File.ReadAllBytes(Path.Combine(folder, f.GetProperty("name").GetString()!));
            Assert.Equal(Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), f.GetProperty("sha256").GetString());
            Assert.Equal(bytes.LongLength, f.GetProperty("bytes").GetInt64());
        }
    }

    [Fact]
    public void ReportEncodesHostileContentAndTranscriptRedactsAuth()
    {
        var result = EvidenceTestData.OpenResult("omr-20240506-abcdefabcdefabcdef03");
        result.Banner = "220 <script>alert(1)</script> ESMTP";
        result.ComputerName = "<script>alert('host')</script>";
        result.Transcript = result.Transcript.Append(new TranscriptEntry(DateTimeOffset.UtcNow, "S", "250 <img src=x onerror=alert(2)>")).ToArray();
        var msg = EvidenceTestData.Delivered(result.ProbeId);
        msg.Headers.Add("X-Evil", "<script>alert(3)</script>");
        var (folder, _, _, _) = WriteFor(result, msg);
        var html = File.ReadAllText(Path.Combine(folder, "report.html"));
        Assert.DoesNotContain("<script>", html);
        Assert.DoesNotContain("<img", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html);
        Assert.Contains("&lt;script&gt;alert(3)&lt;/script&gt;", html);
        Assert.Contains("Content-Security-Policy", html);

        var log = File.ReadAllText(Path.Combine(folder, "transcript.log"));
        Assert.DoesNotContain("AHVzZXIAc2VjcmV0LXBhc3N3b3Jk", log);
        Assert.DoesNotContain("c2VjcmV0LXBhc3N3b3Jk", log);
        Assert.Contains("AUTH PLAIN [redacted]", log);
        Assert.Contains("MAIL FROM:<probe@omr.invalid>", log);
        Assert.Equal(result.Transcript.Length, log.TrimEnd('\n').Split('\n').Length);
        foreach (var f in Directory.GetFiles(folder))
            Assert.DoesNotContain("c2VjcmV0LXBhc3N3b3Jk", Encoding.UTF8.GetString(File.ReadAllBytes(f)));
    }
}
