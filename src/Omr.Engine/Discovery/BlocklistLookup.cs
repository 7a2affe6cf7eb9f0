using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using DnsClient;
using DnsClient.Protocol;
using Omr.Engine.Rules;

namespace Omr.Engine.Discovery
{
    /// <summary>
    /// The DNS blocklist queries of one scan (Test-OpenRelay -Blocklist), through the scan's own resolver:
    /// each zone's RFC 5782 test points are asked once, before its first real query; each (zone, address) is
    /// asked once per run (cached); at most <see cref="PerZone"/> queries are in flight per zone. A zone that
    /// fails its test points, answers an error code or does not answer is reported once per run (through
    /// <c>zoneProblem</c>) and read no further: its silence is never taken as "not listed".
    /// </summary>
    public sealed class BlocklistLookup
    {
        public const int PerZone = 8;

        private readonly ILookupClient _dns;
        private readonly Action<string, string> _zoneProblem;
        private readonly Func<DateTimeOffset> _clock;
        private readonly IReadOnlyList<Zone> _zones;

        private sealed class Zone
        {
            public Zone(string name) { Name = name; }
            public string Name { get; }
            public readonly SemaphoreSlim InFlight = new SemaphoreSlim(PerZone, PerZone);
            public readonly ConcurrentDictionary<string, Lazy<Task<BlocklistListing?>>> Cache = new ConcurrentDictionary<string, Lazy<Task<BlocklistListing?>>>(StringComparer.Ordinal);
            public Lazy<Task<bool>>? Usable;
            public int Reported;
            /// <summary>Once the zone has answered an error or failed, nothing more is read from it this run.</summary>
            public volatile bool Broken;
        }

        /// <param name="zones">Zone names, already normalised (<see cref="BlocklistRules.NormaliseZone"/>).</param>
        /// <param name="zoneProblem">(zone, why): called at most once per zone and run.</param>
        public BlocklistLookup(ILookupClient dns, IEnumerable<string> zones, Action<string, string> zoneProblem, Func<DateTimeOffset>? clock = null)
        {
            _dns = dns ?? throw new ArgumentNullException(nameof(dns));
            _zoneProblem = zoneProblem ?? throw new ArgumentNullException(nameof(zoneProblem));
            _clock = clock ?? (() => DateTimeOffset.UtcNow);
            _zones = zones.Distinct(StringComparer.Ordinal).Select(z => new Zone(z)).ToList();
            foreach (var z in _zones) z.Usable = new Lazy<Task<bool>>(() => CheckTestPointsAsync(z));
        }

        public static BlocklistLookup Create(IReadOnlyList<IPEndPoint>? servers, TimeSpan timeout, IEnumerable<string> zones, Action<string, string> zoneProblem)
            => new BlocklistLookup(DnsLookup.Create(servers, timeout), zones, zoneProblem);

        public IReadOnlyList<string> Zones => _zones.Select(z => z.Name).ToList();

        /// <summary>The zones that list <paramref name="address"/> (an address that does not parse is listed nowhere).</summary>
        public async Task<BlocklistListing[]> ListingsAsync(string? address, CancellationToken ct)
        {
            if (!IPAddress.TryParse(address ?? string.Empty, out var ip)) return Array.Empty<BlocklistListing>();
            var key = Names.Plain(ip).ToString();
            var all = await Task.WhenAll(_zones.Select(z => z.Cache.GetOrAdd(key, _ => new Lazy<Task<BlocklistListing?>>(() => ListedInAsync(z, ip, ct))).Value)).ConfigureAwait(false);
            return all.Where(l => l != null).Select(l => l!).ToArray();
        }

        private async Task<BlocklistListing?> ListedInAsync(Zone zone, IPAddress ip, CancellationToken ct)
        {
            if (zone.Broken || !await zone.Usable!.Value.ConfigureAwait(false)) return null;
            var name = BlocklistRules.QueryName(ip, zone.Name);
            var (answer, failure) = await AskAsync(zone, name, ct).ConfigureAwait(false);
            if (failure != null) { Report(zone, failure); return null; }
            switch (answer!.Kind)
            {
                case BlocklistAnswerKind.NotListed:
                    return null;
                case BlocklistAnswerKind.ZoneError:
                    Report(zone, answer.Problem!);
                    return null;
            }
            string? text = null;
            var txt = await QueryAsync(zone, name, QueryType.TXT, ct).ConfigureAwait(false);
            if (txt != null && !txt.HasError)
                text = string.Join(" ", txt.Answers.TxtRecords().SelectMany(t => t.Text)).Trim();
            return new BlocklistListing
            {
                Zone = zone.Name,
                Codes = answer.Codes.ToArray(),
                Text = string.IsNullOrEmpty(text) ? null : Notices.NoticeText.OneLine(text, 500),
                CheckedAt = _clock(),
            };
        }

        /// <summary>RFC 5782 5: 127.0.0.2 listed and 127.0.0.1 not, asked once per zone and run.</summary>
        private async Task<bool> CheckTestPointsAsync(Zone zone)
        {
            var listed = await AskAsync(zone, BlocklistRules.QueryName(BlocklistRules.ListedTestPoint, zone.Name), CancellationToken.None).ConfigureAwait(false);
            string? problem = listed.Failure;
            if (problem is null)
            {
                var unlisted = await AskAsync(zone, BlocklistRules.QueryName(BlocklistRules.UnlistedTestPoint, zone.Name), CancellationToken.None).ConfigureAwait(false);
                problem = unlisted.Failure ?? BlocklistRules.TestPointProblem(listed.Answer!, unlisted.Answer!);
            }
            if (problem is null) return true;
            Report(zone, problem);
            return false;
        }

        /// <summary>The A answer of <paramref name="name"/>: NXDOMAIN and no data are "not listed"; a server failure or a timeout is a failure.</summary>
        private async Task<(BlocklistAnswer? Answer, string? Failure)> AskAsync(Zone zone, string name, CancellationToken ct)
        {
            var r = await QueryAsync(zone, name, QueryType.A, ct).ConfigureAwait(false);
            if (r is null) return (null, "it did not answer (timed out)");
            if (r.HasError && r.Header.ResponseCode != DnsHeaderResponseCode.NotExistentDomain)
                return (null, "it answered " + r.Header.ResponseCode + (string.IsNullOrEmpty(r.ErrorMessage) ? string.Empty : " (" + r.ErrorMessage + ")"));
            return (BlocklistRules.Interpret(r.Answers.ARecords().Select(a => a.Address)), null);
        }

        private async Task<IDnsQueryResponse?> QueryAsync(Zone zone, string name, QueryType type, CancellationToken ct)
        {
            await zone.InFlight.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                return await _dns.QueryAsync(name, type, QueryClass.IN, ct).ConfigureAwait(false);
            }
            catch (DnsResponseException) { return null; }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { return null; }
            finally { zone.InFlight.Release(); }
        }

        private void Report(Zone zone, string problem)
        {
            zone.Broken = true;
            if (Interlocked.Exchange(ref zone.Reported, 1) == 0) _zoneProblem(zone.Name, problem);
        }
    }
}
