using System;
using System.Threading.Tasks;
using Omr.Engine.Discovery;

namespace Omr.Engine.Probing
{
    /// <summary>How the scanner hands out its answers: each result once, an Open one (every one with -BlocklistAll) after the blocklists were asked about its address.</summary>
    public sealed partial class RelayScanner
    {
        private readonly BlocklistLookup? _blocklists;

        private BlocklistLookup? Blocklists(ScanOptions options)
            => options.Blocklists is { Count: > 0 } zones
                ? BlocklistLookup.Create(options.DnsServers, options.DnsTimeout, zones, (zone, why) => Publish(new EngineWarningEvent(
                    $"BlocklistZoneUnusable: the blocklist {zone} is not used in this run: {why}. No address is reported as listed or as not listed there.")))
                : null;

        internal void PublishResult(ScanInput entry, RelayTestResult result)
        {
            if (_blocklists != null && (result.Verdict == RelayVerdict.Open || _options.BlocklistAll) && !string.IsNullOrEmpty(result.Address))
            {
                // The answer is held open (as for -Verify) until the blocklists have been asked about its address.
                entry.AddOpen();
                _ = ListThenPublishAsync(entry, result);
                return;
            }
            Answer(entry, result);
        }

        private void Answer(ScanInput entry, RelayTestResult result)
        {
            lock (entry.Answers) entry.Answers.Add(result);
            Publish(new ScanResultEvent(result, entry.Input));
        }

        private async Task ListThenPublishAsync(ScanInput entry, RelayTestResult result)
        {
            try
            {
                result.Listings = await _blocklists!.ListingsAsync(result.Address, _cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested) { }
            catch (Exception ex)
            {
                Publish(new EngineWarningEvent($"BlocklistLookupFailed: the blocklists could not be asked about {result.Address}: {ex.Message}"));
            }
            finally
            {
                Answer(entry, result);
                entry.CloseOne(this);
            }
        }

        internal void PublishError(ScanInput entry, EngineErrorEvent error)
        {
            lock (entry.Answers) entry.Answers.Add(error);
            Publish(error);
        }

        internal void PublishRaw(EngineEvent e) => Publish(e);
    }
}
