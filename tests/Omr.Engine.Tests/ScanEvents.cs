using Omr.Engine.Probing;

namespace Omr.Engine.Tests;

/// <summary>Reading a scanner's events in the tests.</summary>
internal static class ScanEvents
{
    /// <summary>All events to the end (two minutes at most), verification requests answered: the results and the errors.</summary>
    public static async Task<(List<RelayTestResult> Results, List<EngineErrorEvent> Errors)> DrainAsync(RelayScanner scanner)
    {
        var results = new List<RelayTestResult>();
        var errors = new List<EngineErrorEvent>();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await foreach (var e in scanner.Events.ReadAllAsync(guard.Token))
        {
            if (e is ScanResultEvent r) results.Add(r.Result);
            else if (e is EngineErrorEvent err) errors.Add(err);
            else if (e is ScanVerifyRequestEvent v) scanner.Verify(v);
        }
        return (results, errors);
    }
}
