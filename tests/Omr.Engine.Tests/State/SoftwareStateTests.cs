using Omr.Engine.State;
using Omr.Engine.Tests.Evidence;
using Xunit;

namespace Omr.Engine.Tests.State;

/// <summary>Schema version 4: each result's software is kept (results.software), read back by Get-RelayHistory and the report, and a file of version 3 is read and upgraded.</summary>
public class SoftwareStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 2, 0, 0, TimeSpan.Zero);

    private static string DbPath() => Path.Combine(EvidenceTestData.TempDir(), "omr.db");

    private static RelayTestResult Result(string address, RelayVerdict verdict, DateTimeOffset t, RelaySoftware? software) => new()
    {
        Target = "customer.example", Domain = "customer.example", ComputerName = "mx.customer.example", Address = address, Port = 25,
        Verdict = verdict, ReasonCode = verdict == RelayVerdict.Open ? RelayReasonCode.RelayAccepted : RelayReasonCode.ClientRefused, Reason = "r",
        ProbeId = "omr-" + Guid.NewGuid().ToString("N"), StartTime = t, Software = software,
        Change = verdict == RelayVerdict.Open ? RelayChange.New : RelayChange.Unconfirmed, OpenSince = T0,
    };

    private static RelaySoftware Exim() => new() { Product = "Exim", Version = "4.96", Confidence = SoftwareConfidence.Version, Evidence = "the greeting names \"Exim 4.96\" <b>" };

    private static void Record(string path, DateTimeOffset t, params RelayTestResult[] results)
    {
        using var s = StateStore.Open(path);
        var run = s.Results.BeginRun("Test-OpenRelay", null, t);
        foreach (var r in results) s.Results.Record(run, r, true, null);
        s.Results.EndRun(run, "Completed", t);
    }

    [Fact]
    public void The_software_of_each_result_is_kept_and_read_back_as_it_was()
    {
        var path = DbPath();
        var unknown = new RelaySoftware { Product = RelaySoftware.UnknownProduct, Confidence = SoftwareConfidence.Unknown, Evidence = "the replies fit several products (Postfix, Exim)" };
        Record(path, T0, Result("192.0.2.1", RelayVerdict.Open, T0, Exim()), Result("192.0.2.2", RelayVerdict.Open, T0, unknown), Result("192.0.2.3", RelayVerdict.Open, T0, null));
        Assert.Contains("\"product\":\"Exim\"", StateFile.Scalar(path, "SELECT software FROM results WHERE address = '192.0.2.1';")); // JSON, readable by any SQLite tool
        Assert.Equal("Exim", StateFile.Scalar(path, "SELECT json_extract(software, '$.product') FROM results WHERE address = '192.0.2.1';"));
        using var ro = StateStore.Open(path, readOnly: true);
        var back = ro.Results.Find(new HistoryQuery()).ToDictionary(e => e.Address!, e => e.Software);
        var exim = back["192.0.2.1"]!;
        Assert.Equal(("Exim", "4.96", SoftwareConfidence.Version, Exim().Evidence), (exim.Product, exim.Version, exim.Confidence, exim.Evidence));
        Assert.True(exim.IsKnown);
        var u = back["192.0.2.2"]!;
        Assert.Equal((RelaySoftware.UnknownProduct, (string?)null, SoftwareConfidence.Unknown, unknown.Evidence), (u.Product, u.Version, u.Confidence, u.Evidence));
        Assert.Null(back["192.0.2.3"]); // nothing identified: nothing stored
        Assert.Equal("Exim 4.96", ro.Reports.OpenCases().Single(c => c.Address == "192.0.2.1").Software!.ToString());
    }

    [Fact]
    public void A_case_keeps_the_software_its_open_results_showed_when_the_server_now_shuts_the_tester_out()
    {
        var path = DbPath();
        Record(path, T0, Result("192.0.2.1", RelayVerdict.Open, T0, Exim()));
        var refused = Result("192.0.2.1", RelayVerdict.Inconclusive, T0.AddDays(1), new RelaySoftware { Product = RelaySoftware.UnknownProduct, Confidence = SoftwareConfidence.Unknown });
        Record(path, T0.AddDays(1), refused);
        using var ro = StateStore.Open(path, readOnly: true);
        Assert.Equal(SoftwareConfidence.Unknown, ro.Results.Find(new HistoryQuery { Latest = true }).Single().Software!.Confidence); // the result: as it was
        Assert.Equal("Exim 4.96", Assert.Single(ro.Reports.OpenCases()).Software!.ToString()); // the case: what its open result showed
    }

    [Fact]
    public void A_version_3_file_is_read_as_it_is_and_upgraded_to_version_4_when_opened_for_writing()
    {
        var path = DbPath();
        Record(path, T0, Result("192.0.2.1", RelayVerdict.Open, T0, Exim()));
        // What version 3 wrote: the same tables, without results.software.
        StateFile.Exec(path, "ALTER TABLE results DROP COLUMN software; UPDATE meta SET value = '3' WHERE key = 'schema_version';");
        const string HasSoftware = "SELECT count(*) FROM pragma_table_info('results') WHERE name = 'software';";
        Assert.Equal("0", StateFile.Scalar(path, HasSoftware));
        using (var ro = StateStore.Open(path, readOnly: true))
        {
            Assert.Null(Assert.Single(ro.Results.Find(new HistoryQuery { Latest = true })).Software);
            Assert.Null(Assert.Single(ro.Reports.OpenCases()).Software); // the report reads a version-3 file as it is
            var run = ro.Reports.CurrentRun(null)!;
            Assert.Null(Assert.Single(ro.Reports.Changed(run.RunId, new[] { RelayVerdict.Open }, new[] { RelayChange.New })).Software);
        }
        Assert.Equal("3", StateFile.Scalar(path, "SELECT value FROM meta WHERE key = 'schema_version';")); // reading changed nothing
        Assert.Equal("0", StateFile.Scalar(path, HasSoftware));
        Record(path, T0.AddDays(1), Result("192.0.2.2", RelayVerdict.Open, T0.AddDays(1), Exim()));
        Assert.Equal("4", StateFile.Scalar(path, "SELECT value FROM meta WHERE key = 'schema_version';"));
        Assert.Equal("1", StateFile.Scalar(path, HasSoftware));
        Assert.NotEqual(string.Empty, StateFile.Scalar(path, "SELECT value FROM meta WHERE key = 'upgraded_to_4';"));
        using (var ro = StateStore.Open(path, readOnly: true))
        {
            var back = ro.Results.Find(new HistoryQuery()).ToDictionary(e => e.Address!, e => e.Software?.ToString());
            Assert.Null(back["192.0.2.1"]); // the old row stays as it was
            Assert.Equal("Exim 4.96", back["192.0.2.2"]);
        }
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[\"Postfix\"]")]
    [InlineData("42")]
    [InlineData("{}")]
    [InlineData("{\"product\":5,\"confidence\":\"Version\"}")]
    [InlineData("{\"product\":\"Postfix\"}")]
    [InlineData("{\"product\":\"Postfix\",\"confidence\":\"7\"}")]
    [InlineData("{\"product\":\"Postfix\",\"confidence\":\"version\"}")]
    [InlineData("{\"product\":\"  \",\"confidence\":\"Version\"}")]
    [InlineData("{\"product\":\"Postfix\",\"confidence\":\"Unknown\"}")]
    [InlineData("{\"product\":\"Postfix\",\"confidence\":\"Version\"")]
    public void A_software_value_Omr_did_not_write_reads_as_Unknown(string stored)
    {
        var s = StateValues.Software(stored);
        Assert.NotNull(s);
        Assert.Equal(RelaySoftware.UnknownProduct, s!.Product);
        Assert.Equal(SoftwareConfidence.Unknown, s.Confidence);
        Assert.False(s.IsKnown);
    }

    [Fact]
    public void A_forged_software_value_in_the_file_reads_as_Unknown_without_an_error()
    {
        Assert.Equal(SoftwareConfidence.Unknown, StateValues.Software(new string('[', 5000) + new string(']', 5000))!.Confidence); // deeper than the parser goes
        Assert.Null(StateValues.Software((string?)null));
        Assert.Null(StateValues.Software(" "));
        var path = DbPath();
        Record(path, T0, Result("192.0.2.1", RelayVerdict.Open, T0, Exim()), Result("192.0.2.2", RelayVerdict.Open, T0, Exim()));
        StateFile.Exec(path, "UPDATE results SET software = '{\"product\": ' WHERE address = '192.0.2.1'; UPDATE results SET software = x'00ff' WHERE address = '192.0.2.2';");
        using var ro = StateStore.Open(path, readOnly: true);
        Assert.All(ro.Results.Find(new HistoryQuery()), e => Assert.Equal(SoftwareConfidence.Unknown, e.Software!.Confidence));
        Assert.All(ro.Reports.OpenCases(), c => Assert.False(c.Software!.IsKnown)); // the report's SQL passes over a value that is not JSON
    }
}
