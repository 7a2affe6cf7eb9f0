using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Omr.Engine.Discovery;
using Omr.Engine.Rules;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// Runs discovery and probes with a fixed pool of workers fed from bounded queues, and publishes
    /// results, errors and progress on a channel that the caller drains on its own thread.
    /// An address (with its port) is tested once per run however many domains, MX names or duplicate
    /// inputs lead to it: each (domain, address, port) still gets its own result. Every input yields
    /// at least one result or one error.
    /// </summary>
    public sealed partial class RelayScanner : IDisposable
    {
        private readonly ScanOptions _options;
        private readonly MailHostResolver _resolver;
        private readonly Channel<EngineEvent> _events = Channel.CreateUnbounded<EngineEvent>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Channel<ScanInput> _inputs;
        private readonly CancellationTokenSource _cts;
        private readonly Task[] _dnsWorkers;
        private readonly object _inputLock = new object();
        private readonly Dictionary<string, ScanInput> _inputsByKey = new Dictionary<string, ScanInput>(StringComparer.Ordinal);
        private readonly Recent<ScanInput> _doneInputs;
        private int _outstanding = 1; // one for "inputs still coming"
        private int _addressesKnown;
        private int _addressesDone;

        public RelayScanner(ScanOptions options, CancellationToken ct)
        {
            _options = options;
            options.Probe.Validate();
            if (options.ThrottleLimit < 1) throw new ArgumentOutOfRangeException(nameof(options), "ThrottleLimit must be at least 1.");
            if (options.MaxConnectionsPerAddress < 1) throw new ArgumentOutOfRangeException(nameof(options), "MaxConnectionsPerAddress must be at least 1.");
            _resolver = new MailHostResolver(options.DnsServers, options.DnsTimeout);
            _blocklists = Blocklists(options);
            _cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _doneInputs = new Recent<ScanInput>(_inputsByKey, i => i.Key, options.RememberedAddresses);
            _idleJobs = new Recent<AddressJob>(_jobsByKey, j => j.Key, options.RememberedAddresses, j => j.Remembered = null);
            // Stopped (Ctrl+C): the caller stops reading at once; nothing more is written.
            _cts.Token.Register(() => _events.Writer.TryComplete());
            // Inputs wait in a bounded queue: a caller with 100,000 inputs is held back (AddDomain
            // blocks, TryAdd says no) instead of buffering them all.
            _inputs = Channel.CreateBounded<ScanInput>(new BoundedChannelOptions(Math.Max(16, Math.Min(options.ThrottleLimit, 256)))
            {
                FullMode = BoundedChannelFullMode.Wait,
                SingleWriter = false,
                SingleReader = false,
            });
            _jobs = Channel.CreateUnbounded<AddressJob>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
            _jobSlots = new SemaphoreSlim(options.ThrottleLimit * 2 + 16);
            _dnsWorkers = new Task[Math.Max(1, Math.Min(options.ThrottleLimit, 64))];
            for (int i = 0; i < _dnsWorkers.Length; i++) _dnsWorkers[i] = Task.Run(DnsWorkerAsync);
            _locality = LearnLocality();
            _probeWorkers = new Task[options.ThrottleLimit];
            for (int i = 0; i < _probeWorkers.Length; i++) _probeWorkers[i] = Task.Run(ProbeWorkerAsync);
        }

        public ChannelReader<EngineEvent> Events => _events.Reader;

        /// <summary>The mail hosts of the recipient domains the scan uses; every battery waits for them.</summary>
        private readonly Task<RecipientLocality> _locality;

        /// <summary>
        /// Learns, once, the mail hosts of the -VerifyAddress domain and of a -ProbeRecipient other than
        /// the reserved default: a server that is one of them must not be tested with that recipient. A
        /// domain whose hosts cannot be learnt is one warning; such a server is then recognised by its
        /// replies alone.
        /// </summary>
        private async Task<RecipientLocality> LearnLocality()
        {
            var verify = _options.VerifyAddress;
            var probe = _options.Probe.ProbeRecipient;
            var mailboxes = new[] { string.Equals(probe, ProbeSettings.DefaultProbeRecipient, StringComparison.OrdinalIgnoreCase) ? null : probe, verify };
            if (mailboxes.All(m => m is null)) return RecipientLocality.None;
            await Task.Yield();
            try
            {
                var locality = await RecipientLocality.LearnAsync(mailboxes, verify, _options.DnsServers, _options.DnsTimeout, _cts.Token).ConfigureAwait(false);
                foreach (var d in locality.Domains.Where(d => d.Problem != null))
                {
                    var role = string.Equals(d.Domain, RecipientRules.DomainOf(verify), StringComparison.Ordinal) ? "-VerifyAddress" : "-ProbeRecipient";
                    Publish(new EngineWarningEvent($"The mail hosts of {d.Domain}, the {role} domain, are not known ({d.Problem!.TrimEnd('.')}): a server that receives its mail is recognised only by its replies, and Get-RelayEvidence by the Received chain."));
                }
                foreach (var d in locality.Domains.Where(d => d.Problem is null))
                    Verbose(() => $"{d.Domain} receives mail at {string.Join(", ", d.HostNames)} ({string.Join(", ", d.Addresses)}): those servers are tested with a recipient foreign to them");
                return locality;
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested)
            {
                return RecipientLocality.None;
            }
        }

        /// <summary>Cancels all work at once.</summary>
        public void Cancel() => _cts.Cancel();

        /// <summary>Queues a domain: MX lookup, then every address of every MX (waits while the input queue is full).</summary>
        public void AddDomain(string domain, object? input) => AddDomain(domain, input, null);

        /// <summary>
        /// Queues a domain; <paramref name="alsoTest"/> names addresses tested for it before: those no longer among
        /// its MX addresses are tested too, directly (a server hidden behind a new MX still answers to spammers).
        /// </summary>
        public void AddDomain(string domain, object? input, IReadOnlyList<string>? alsoTest)
        {
            if (!TryAddDomain(domain, input, alsoTest)) Add(new ScanInput(domain, null, input, isHost: false, alsoTest));
        }

        /// <summary>Queues a host or address tested directly, with an optional domain for context (waits while the input queue is full).</summary>
        public void AddHost(string host, string? domain, object? input)
        {
            if (!TryAddHost(host, domain, input)) Add(new ScanInput(host, domain, input, isHost: true));
        }

        /// <summary>Queues a domain unless the input queue is full (then false: drain events and wait with <see cref="WaitAsync"/>).</summary>
        public bool TryAddDomain(string domain, object? input) => TryAddDomain(domain, input, null);

        /// <summary>Queues a domain (and earlier addresses to test again; on these ports, or the scan's) unless the input queue is full.</summary>
        public bool TryAddDomain(string domain, object? input, IReadOnlyList<string>? alsoTest, IReadOnlyList<int>? ports = null) => TryAdd(new ScanInput(domain, null, input, isHost: false, alsoTest, ports));

        /// <summary>Queues a host unless the input queue is full.</summary>
        public bool TryAddHost(string host, string? domain, object? input, IReadOnlyList<int>? ports = null) => TryAdd(new ScanInput(host, domain, input, isHost: true, ports: ports));

        /// <summary>Completes when the input queue has room or an event is ready for the caller.</summary>
        public Task WaitAsync(CancellationToken ct)
            => Task.WhenAny(_inputs.Writer.WaitToWriteAsync(ct).AsTask(), _events.Reader.WaitToReadAsync(ct).AsTask());

        /// <summary>Blocks (without spinning) until the input queue has room or an event is ready; OperationCanceledException on <paramref name="ct"/>.</summary>
        public void WaitForRoom(CancellationToken ct)
        {
            var any = WaitAsync(ct);
            QuietWait.Wait(any);
            ct.ThrowIfCancellationRequested();
        }

        private void Add(ScanInput item)
        {
            while (!TryAdd(item))
            {
                try { QuietWait.Result(_inputs.Writer.WaitToWriteAsync(_cts.Token).AsTask()); }
                catch (OperationCanceledException) { return; }
            }
        }

        private bool TryAdd(ScanInput item)
        {
            Interlocked.Increment(ref _outstanding);
            if (_inputs.Writer.TryWrite(item)) return true;
            Interlocked.Decrement(ref _outstanding);
            return false;
        }

        /// <summary>No more inputs; the channel completes when the work in flight is done.</summary>
        public void Complete()
        {
            _inputs.Writer.TryComplete();
            Release();
        }

        private void Release()
        {
            if (Interlocked.Decrement(ref _outstanding) == 0)
            {
                _jobs.Writer.TryComplete();
                _events.Writer.TryComplete();
            }
        }

        private void Publish(EngineEvent e)
        {
            if (e is ScanResultEvent || e is ScanVerifyRequestEvent) Interlocked.Increment(ref _unread);
            _events.Writer.TryWrite(e);
        }

        /// <summary>Results written but not yet read by the caller (counted once the caller reads through a stream).</summary>
        private int _unread;
        private volatile bool _counting;

        internal void CountConsumed() => _counting = true;

        internal void Consumed(EngineEvent e)
        {
            if (e is ScanResultEvent || e is ScanVerifyRequestEvent) Interlocked.Decrement(ref _unread);
        }

        /// <summary>
        /// Back-pressure towards the workers: while the caller has many results still to read (a slow
        /// Export-Csv, say), the workers wait before writing more, so results do not pile up in memory.
        /// </summary>
        private async Task WaitForReaderAsync()
        {
            if (!_counting) return;
            var limit = Math.Max(256, _options.ThrottleLimit);
            while (Volatile.Read(ref _unread) > limit && !_cts.IsCancellationRequested)
                await Task.Delay(5, _cts.Token).ConfigureAwait(false);
        }

        /// <summary>Verbose lines are built and queued only when someone reads them.</summary>
        private void Verbose(Func<string> message)
        {
            if (_options.Verbose) Publish(new EngineVerboseEvent(message()));
        }

        private int _lastProgress;
        private int _progressShown;

        /// <summary>Progress at most every 200 ms (and always when forced), not per address.</summary>
        private void Progress(string current, bool force = false)
        {
            var now = Environment.TickCount;
            if (!force && Volatile.Read(ref _progressShown) != 0 && unchecked(now - Volatile.Read(ref _lastProgress)) < 200) return;
            Volatile.Write(ref _lastProgress, now);
            Volatile.Write(ref _progressShown, 1);
            Publish(new ScanProgressEvent(Volatile.Read(ref _addressesDone), Volatile.Read(ref _addressesKnown), current));
        }

        private async Task DnsWorkerAsync()
        {
            try
            {
                while (await _inputs.Reader.WaitToReadAsync(_cts.Token).ConfigureAwait(false))
                {
                    while (_inputs.Reader.TryRead(out var item))
                    {
                        if (Join(item)) continue; // a duplicate: answered with the first one's results
                        try
                        {
                            if (item.IsHost) await HostAsync(item).ConfigureAwait(false);
                            else await DomainAsync(item).ConfigureAwait(false);
                        }
                        finally { item.Resolved(this); }
                    }
                }
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested) { }
        }

        /// <summary>True when the input duplicates one seen earlier in the run: it waits for, or at once gets, the same answer.</summary>
        private bool Join(ScanInput item)
        {
            ScanInput? first;
            lock (_inputLock)
            {
                if (!_inputsByKey.TryGetValue(item.Key, out first))
                {
                    _inputsByKey[item.Key] = item;
                    return false;
                }
                if (!first.IsDone)
                {
                    first.Duplicates.Add(item);
                    return true;
                }
            }
            Verbose(() => $"{item.Value}: given again; answered with the results of the first test in this run");
            first.AnswerDuplicate(item, this);
            Release();
            return true;
        }

        /// <summary>Called when an input has its whole answer: duplicates get theirs, and it is remembered (bounded).</summary>
        internal void Done(ScanInput item)
        {
            List<ScanInput> dups;
            lock (_inputLock)
            {
                item.IsDone = true;
                dups = new List<ScanInput>(item.Duplicates);
                item.Duplicates.Clear();
                _doneInputs.Add(item);
            }
            foreach (var d in dups)
            {
                item.AnswerDuplicate(d, this);
                Release();
            }
            Release();
        }


        private async Task DomainAsync(ScanInput item)
        {
            var domain = item.Value;
            var input = item.Input;
            try
            {
                var literal = MailHostResolver.ParseLiteral(domain);
                if (literal != null)
                {
                    // An address literal given as a domain is tested directly (no MX lookup).
                    await StartAddressesAsync(item, domain.Trim(), null, null, null, new[] { literal }).ConfigureAwait(false);
                    return;
                }
                Verbose(() => $"Resolving MX for {domain}");
                var routing = await _resolver.ResolveDomainAsync(domain, _cts.Token).ConfigureAwait(false);
                if (routing.NullMx)
                {
                    PublishResult(item, NullMxResult(domain, routing.Domain, item.Ports));
                    return;
                }
                foreach (var note in routing.Notes) Verbose(() => note);
                if (routing.OmittedHosts > 0)
                    Publish(new EngineWarningEvent($"{routing.Domain}: {routing.OmittedHosts} MX host(s) beyond the {routing.Hosts.Count} most preferred were not tested."));
                var usable = routing.Hosts.Where(h => h.Addresses.Count > 0).ToList();
                foreach (var bad in routing.Hosts.Where(h => h.Addresses.Count == 0))
                {
                    // A host that failed to resolve is a DNS failure, not a missing host.
                    var kind = bad.ProblemKind ?? DiscoveryErrorKind.NoMailHost;
                    PublishError(item, new EngineErrorEvent(kind.ToString(), kind == DiscoveryErrorKind.DnsFailure ? EngineErrorCategory.ConnectionError : EngineErrorCategory.ObjectNotFound,
                        $"Domain '{routing.Domain}': {bad.Problem ?? $"MX host '{bad.Name}' has no address"}.", input ?? domain, null));
                }
                var mxNames = routing.Hosts.Select(h => h.Name).ToArray();
                var mxAddresses = new HashSet<IPAddress>();
                foreach (var h in usable)
                {
                    foreach (var note in h.Notes) Verbose(() => note);
                    var aka = h.Aliases.Count > 0 ? " (also " + string.Join(", ", h.Aliases) + ")" : string.Empty;
                    var canon = h.CanonicalName != null ? " (alias of " + h.CanonicalName + ")" : string.Empty;
                    Verbose(() => $"{routing.Domain}: {(h.ImplicitMx ? "implicit MX" : "MX " + h.Preference)} {h.Name}{aka}{canon} -> {string.Join(", ", h.Addresses)}");
                    foreach (var a in h.Addresses) mxAddresses.Add(a);
                    await StartAddressesAsync(item, domain.Trim(), routing.Domain, h.Name, h.Preference, h.Addresses, mxNames, true, new[] { h.CanonicalName }.Concat(h.Aliases)).ConfigureAwait(false);
                }
                if (item.AlsoTest != null)
                {
                    // Earlier addresses of the domain that are no longer MX addresses: still tested,
                    // since spammers connect to addresses, not to MX records.
                    var old = new List<IPAddress>();
                    foreach (var text in item.AlsoTest)
                    {
                        var a = MailHostResolver.ParseLiteral(text);
                        if (a != null && !mxAddresses.Contains(a) && !old.Contains(a)) old.Add(a);
                    }
                    if (old.Count > 0)
                    {
                        Verbose(() => $"{routing.Domain}: also testing {string.Join(", ", old)}, no longer among its MX addresses");
                        await StartAddressesAsync(item, domain.Trim(), routing.Domain, null, null, old, mxNames, false).ConfigureAwait(false);
                    }
                }
            }
            catch (DiscoveryException ex)
            {
                PublishError(item, DiscoveryError(ex, input ?? domain));
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested) { }
            catch (Exception ex)
            {
                PublishError(item, new EngineErrorEvent("ProbeFailed", EngineErrorCategory.NotSpecified, $"Testing '{domain}' failed: {ex.Message}", input ?? domain, ex));
            }
        }

        private async Task HostAsync(ScanInput item)
        {
            var host = item.Value;
            var input = item.Input;
            try
            {
                var addrs = await _resolver.ResolveHostAsync(host, _cts.Token).ConfigureAwait(false);
                var literal = MailHostResolver.ParseLiteral(host);
                var name = literal != null ? null : MailHostResolver.NormalizeName(host);
                var dom = string.IsNullOrWhiteSpace(item.Context) ? null : MailHostResolver.NormalizeName(item.Context!);
                await StartAddressesAsync(item, host.Trim(), dom, name, null, addrs).ConfigureAwait(false);
            }
            catch (DiscoveryException ex)
            {
                PublishError(item, DiscoveryError(ex, input ?? host));
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested) { }
            catch (Exception ex)
            {
                PublishError(item, new EngineErrorEvent("ProbeFailed", EngineErrorCategory.NotSpecified, $"Testing '{host}' failed: {ex.Message}", input ?? host, ex));
            }
        }

        private static EngineErrorEvent DiscoveryError(DiscoveryException ex, object target)
        {
            var category = ex.Kind switch
            {
                DiscoveryErrorKind.DnsFailure => EngineErrorCategory.ConnectionError,
                DiscoveryErrorKind.InvalidTarget => EngineErrorCategory.InvalidArgument,
                _ => EngineErrorCategory.ObjectNotFound,
            };
            return new EngineErrorEvent(ex.Kind.ToString(), category, ex.Message, target, ex);
        }

        private RelayTestResult NullMxResult(string target, string domain, IReadOnlyList<int>? ports) => new RelayTestResult
        {
            Target = target.Trim(),
            Domain = domain,
            ComputerName = null,
            Address = null,
            Port = (ports ?? _options.Ports).FirstOrDefault(),
            Preference = 0,
            Verdict = RelayVerdict.NoMail,
            ReasonCode = RelayReasonCode.NullMx,
            Reason = "The domain publishes a null MX (RFC 7505, MX 0 \".\"): it accepts no mail, so there is no mail server to test.",
            StartTime = DateTimeOffset.UtcNow,
            ProbeId = NewProbeId(),
            Tests = Array.Empty<RelayTestOutcome>(),
            Transcript = new[] { new TranscriptEntry(DateTimeOffset.UtcNow, "*", $"{domain} MX 0 . (null MX)") },
        };

        private static readonly RandomNumberGenerator Rng = RandomNumberGenerator.Create();

        /// <summary>A unique, unguessable probe id usable as a token in a Subject or Message-ID.</summary>
        public static string NewProbeId()
        {
            var bytes = new byte[10];
            Rng.GetBytes(bytes);
            return "omr-" + DateTime.UtcNow.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture) + "-" + BitConverter.ToString(bytes).Replace("-", string.Empty).ToLowerInvariant();
        }

        public void Dispose()
        {
            // Cancel only: background tasks may still observe the token while they unwind.
            _cts.Cancel();
        }
    }
}
