using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Omr.Engine.Discovery;

namespace Omr.Engine.Probing
{
    public sealed class ScanResultEvent : EngineEvent
    {
        public ScanResultEvent(RelayTestResult result, object? input) { Result = result; Input = input; }
        public RelayTestResult Result { get; }
        public object? Input { get; }
    }

    /// <summary>
    /// An Open result waiting for the caller's decision (ShouldProcess) to send the one verification
    /// message. The caller must answer with <see cref="RelayScanner.Verify"/> or <see cref="RelayScanner.SkipVerification"/>.
    /// </summary>
    public sealed class ScanVerifyRequestEvent : EngineEvent
    {
        internal ScanVerifyRequestEvent(RelayTestResult result, object? input, SmtpProbeSession session, ExpandedRelayTest test)
        {
            Result = result; Input = input; Session = session; Test = test;
        }

        public RelayTestResult Result { get; }
        public object? Input { get; }
        /// <summary>The test the message would be sent through, addressed to the operator's mailbox.</summary>
        public ExpandedRelayTest Test { get; }
        internal SmtpProbeSession Session { get; }
    }

    public sealed class ScanProgressEvent : EngineEvent
    {
        public ScanProgressEvent(int completed, int total, string current) { Completed = completed; Total = total; Current = current; }
        public int Completed { get; }
        public int Total { get; }
        public string Current { get; }
    }

    /// <summary>What to scan and how.</summary>
    public sealed class ScanOptions
    {
        public ProbeSettings Probe { get; set; } = new ProbeSettings();
        public IReadOnlyList<IPEndPoint>? DnsServers { get; set; }
        public IReadOnlyList<int> Ports { get; set; } = new[] { 25 };
        public int ThrottleLimit { get; set; } = 64;
        public TimeSpan DnsTimeout { get; set; } = TimeSpan.FromSeconds(5);
        /// <summary>When set, Open results are proven by one message to this mailbox (-Verify).</summary>
        public string? VerifyAddress { get; set; }
        /// <summary>Who ran the test, written into the verification message.</summary>
        public string? OperatorContact { get; set; }
    }

    /// <summary>
    /// Runs discovery and probes concurrently (bounded by the throttle) and publishes results,
    /// errors and progress on a channel that the caller drains on its own thread.
    /// Every input yields at least one result or one error.
    /// </summary>
    public sealed class RelayScanner : IDisposable
    {
        private readonly ScanOptions _options;
        private readonly MailHostResolver _resolver;
        private readonly Channel<EngineEvent> _events = Channel.CreateUnbounded<EngineEvent>(new UnboundedChannelOptions { SingleReader = true });
        private readonly SemaphoreSlim _probeSlots;
        private readonly SemaphoreSlim _dnsSlots;
        private readonly CancellationTokenSource _cts;
        private int _outstanding = 1; // one for "inputs still coming"
        private int _addressesKnown;
        private int _addressesDone;

        public RelayScanner(ScanOptions options, CancellationToken ct)
        {
            _options = options;
            options.Probe.Validate();
            if (options.ThrottleLimit < 1) throw new ArgumentOutOfRangeException(nameof(options), "ThrottleLimit must be at least 1.");
            _resolver = new MailHostResolver(options.DnsServers, options.DnsTimeout);
            _probeSlots = new SemaphoreSlim(options.ThrottleLimit);
            _dnsSlots = new SemaphoreSlim(Math.Min(options.ThrottleLimit, 64));
            _cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        }

        public ChannelReader<EngineEvent> Events => _events.Reader;

        /// <summary>Cancels all work at once.</summary>
        public void Cancel() => _cts.Cancel();

        /// <summary>Queues a domain: MX lookup, then every address of every MX.</summary>
        public void AddDomain(string domain, object? input)
        {
            Interlocked.Increment(ref _outstanding);
            _ = Task.Run(() => DomainAsync(domain, input));
        }

        /// <summary>Queues a host or address tested directly, with an optional domain for context.</summary>
        public void AddHost(string host, string? domain, object? input)
        {
            Interlocked.Increment(ref _outstanding);
            _ = Task.Run(() => HostAsync(host, domain, input));
        }

        /// <summary>No more inputs; the channel completes when the work in flight is done.</summary>
        public void Complete() => Release();

        private void Release()
        {
            if (Interlocked.Decrement(ref _outstanding) == 0) _events.Writer.TryComplete();
        }

        private void Publish(EngineEvent e) => _events.Writer.TryWrite(e);

        private async Task DomainAsync(string domain, object? input)
        {
            try
            {
                var literal = MailHostResolver.ParseLiteral(domain);
                if (literal != null)
                {
                    // An address literal given as a domain is tested directly (no MX lookup).
                    StartAddresses(domain.Trim(), null, null, null, new[] { literal }, input);
                    return;
                }
                MailRouting routing;
                await _dnsSlots.WaitAsync(_cts.Token).ConfigureAwait(false);
                try
                {
                    Publish(new EngineVerboseEvent($"Resolving MX for {domain}"));
                    routing = await _resolver.ResolveDomainAsync(domain, _cts.Token).ConfigureAwait(false);
                }
                finally { _dnsSlots.Release(); }

                if (routing.NullMx)
                {
                    Publish(new ScanResultEvent(NullMxResult(domain, routing.Domain), input));
                    return;
                }
                var usable = routing.Hosts.Where(h => h.Addresses.Count > 0).ToList();
                foreach (var bad in routing.Hosts.Where(h => h.Addresses.Count == 0))
                {
                    Publish(new EngineErrorEvent("NoMailHost", EngineErrorCategory.ObjectNotFound,
                        $"Domain '{routing.Domain}': {bad.Problem ?? $"MX host '{bad.Name}' has no address"}.", input ?? domain, null));
                }
                if (usable.Count == 0) return; // the errors above are this input's answer
                foreach (var h in usable)
                {
                    Publish(new EngineVerboseEvent($"{routing.Domain}: {(h.ImplicitMx ? "implicit MX" : "MX " + h.Preference)} {h.Name} -> {string.Join(", ", h.Addresses)}"));
                    StartAddresses(domain.Trim(), routing.Domain, h.Name, h.Preference, h.Addresses, input);
                }
            }
            catch (DiscoveryException ex)
            {
                Publish(DiscoveryError(ex, input ?? domain));
            }
            catch (OperationCanceledException) { }
            catch (Exception ex)
            {
                Publish(new EngineErrorEvent("ProbeFailed", EngineErrorCategory.NotSpecified, $"Testing '{domain}' failed: {ex.Message}", input ?? domain, ex));
            }
            finally { Release(); }
        }

        private async Task HostAsync(string host, string? domain, object? input)
        {
            try
            {
                IReadOnlyList<IPAddress> addrs;
                await _dnsSlots.WaitAsync(_cts.Token).ConfigureAwait(false);
                try
                {
                    addrs = await _resolver.ResolveHostAsync(host, _cts.Token).ConfigureAwait(false);
                }
                finally { _dnsSlots.Release(); }
                var literal = MailHostResolver.ParseLiteral(host);
                var name = literal != null ? null : MailHostResolver.NormalizeName(host);
                var dom = string.IsNullOrWhiteSpace(domain) ? null : MailHostResolver.NormalizeName(domain!);
                StartAddresses(host.Trim(), dom, name, null, addrs, input);
            }
            catch (DiscoveryException ex)
            {
                Publish(DiscoveryError(ex, input ?? host));
            }
            catch (OperationCanceledException) { }
            catch (Exception ex)
            {
                Publish(new EngineErrorEvent("ProbeFailed", EngineErrorCategory.NotSpecified, $"Testing '{host}' failed: {ex.Message}", input ?? host, ex));
            }
            finally { Release(); }
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

        private void StartAddresses(string target, string? domain, string? host, int? preference, IReadOnlyList<IPAddress> addresses, object? input)
        {
            foreach (var address in addresses)
            {
                foreach (var port in _options.Ports)
                {
                    Interlocked.Increment(ref _outstanding);
                    Interlocked.Increment(ref _addressesKnown);
                    var probe = new ProbeAddress(target, domain, host, address, port, preference);
                    _ = Task.Run(() => ProbeAsync(probe, input));
                }
            }
        }

        private async Task ProbeAsync(ProbeAddress probe, object? input)
        {
            var label = $"{probe.Host ?? probe.Address.ToString()} {SmtpConnection.Format(probe.Address, probe.Port)}";
            try
            {
                var session = new SmtpProbeSession(probe, _options.Probe);
                await _probeSlots.WaitAsync(_cts.Token).ConfigureAwait(false);
                try
                {
                    Publish(new ScanProgressEvent(Volatile.Read(ref _addressesDone), Volatile.Read(ref _addressesKnown), label));
                    Publish(new EngineVerboseEvent($"Probing {label}"));
                    await session.RunFirstAsync(_cts.Token).ConfigureAwait(false);
                }
                finally { _probeSlots.Release(); }
                if (session.NeedsGreylistRetry)
                {
                    Publish(new EngineVerboseEvent($"{label}: temporary refusals; retrying in {_options.Probe.GreylistRetry.TotalSeconds:0.#} s"));
                    await Task.Delay(_options.Probe.GreylistRetry, _cts.Token).ConfigureAwait(false);
                    await _probeSlots.WaitAsync(_cts.Token).ConfigureAwait(false);
                    try { await session.RetryTemporaryAsync(_cts.Token).ConfigureAwait(false); }
                    finally { _probeSlots.Release(); }
                }
                var result = session.BuildResult(NewProbeId());
                var done = Interlocked.Increment(ref _addressesDone);
                var verifyTest = _options.VerifyAddress is null || result.Verdict != RelayVerdict.Open ? null : session.VerificationTest(_options.VerifyAddress);
                if (verifyTest != null)
                {
                    // Held open until the caller answers Verify/SkipVerification.
                    Interlocked.Increment(ref _outstanding);
                    Publish(new ScanVerifyRequestEvent(result, input, session, verifyTest));
                }
                else
                {
                    Publish(new ScanResultEvent(result, input));
                }
                Publish(new ScanProgressEvent(done, Volatile.Read(ref _addressesKnown), label));
            }
            catch (OperationCanceledException) { }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _addressesDone);
                Publish(new EngineErrorEvent("ProbeFailed", EngineErrorCategory.NotSpecified, $"Probing {label} failed unexpectedly: {ex.Message}", input ?? probe.Target, ex));
            }
            finally { Release(); }
        }

        /// <summary>Sends the verification message (the caller said yes to ShouldProcess).</summary>
        public void Verify(ScanVerifyRequestEvent request)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    var r = request.Result;
                    var messageId = VerificationMessage.MessageIdFor(r.ProbeId);
                    await request.Session.VerifyAsync(request.Test, _options.VerifyAddress!, test =>
                    {
                        // The header From is always the operator's probe address, whatever envelope sender the variant uses.
                        var msg = VerificationMessage.Create(r, test, _options.VerifyAddress!, _options.Probe.ProbeFrom, _options.OperatorContact, DateTimeOffset.UtcNow, _options.Probe.HeloName);
                        return VerificationMessage.ToDataBytes(msg);
                    }, messageId, _cts.Token).ConfigureAwait(false);
                    var final = request.Session.BuildResult(r.ProbeId);
                    final.StartTime = r.StartTime;
                    Publish(new ScanResultEvent(final, request.Input));
                }
                catch (OperationCanceledException) { }
                catch (Exception ex)
                {
                    Publish(new ScanResultEvent(request.Result, request.Input));
                    Publish(new EngineErrorEvent("VerificationFailed", EngineErrorCategory.NotSpecified, $"Verification through {request.Result.ComputerName} failed unexpectedly: {ex.Message}", request.Input ?? request.Result.Target, ex));
                }
                finally { Release(); }
            });
        }

        /// <summary>Writes the result without verification (-WhatIf, or the user said no).</summary>
        public RelayTestResult SkipVerification(ScanVerifyRequestEvent request)
        {
            Release();
            return request.Result;
        }

        private RelayTestResult NullMxResult(string target, string domain) => new RelayTestResult
        {
            Target = target.Trim(),
            Domain = domain,
            ComputerName = ".",
            Address = null,
            Port = _options.Ports.FirstOrDefault(),
            Preference = 0,
            Verdict = RelayVerdict.NoMail,
            ReasonCode = RelayReasonCode.NullMx,
            Reason = "The domain publishes a null MX (RFC 7505, MX 0 \".\"): it accepts no mail, so there is no mail server to test.",
            StartTime = DateTimeOffset.UtcNow,
            ProbeId = NewProbeId(),
            Tests = Array.Empty<RelayTestOutcome>(),
            Transcript = new[] { new TranscriptEntry(DateTimeOffset.UtcNow, "*", $"{domain} MX 0 . (null MX)") },
        };

        /// <summary>A unique, unguessable probe id usable as a token in a Subject or Message-ID.</summary>
        public static string NewProbeId()
        {
            var bytes = new byte[10];
            using (var rng = RandomNumberGenerator.Create()) rng.GetBytes(bytes);
            return "omr-" + DateTime.UtcNow.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture) + "-" + BitConverter.ToString(bytes).Replace("-", string.Empty).ToLowerInvariant();
        }

        public void Dispose()
        {
            // Cancel only: background tasks may still observe the token while they unwind.
            _cts.Cancel();
        }
    }
}
