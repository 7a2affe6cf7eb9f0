using System;
using System.Collections.Generic;
using System.Net;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Omr.Engine.Rules;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// Everything a scan does to one address and port: one probe session shared by every (domain,
    /// host) context that leads to it, a bound on the connections open to it at once, and the
    /// contexts that wait for their results.
    /// </summary>
    internal sealed class AddressJob
    {
        public AddressJob(string key, int maxConnections)
        {
            Key = key;
            Slots = new SemaphoreSlim(maxConnections);
        }

        public string Key { get; }
        public readonly object Lock = new object();
        public SemaphoreSlim Slots { get; }
        public SmtpProbeSession? Session { get; set; }
        /// <summary>New contexts, added by the resolvers; the worker moves them into the session.</summary>
        public List<(ProbeAddress Probe, ScanInput Entry)> Incoming { get; } = new List<(ProbeAddress, ScanInput)>();
        /// <summary>Contexts in the session that have no result yet.</summary>
        public List<(ProbeTargetContext Context, ScanInput Entry)> Waiting { get; } = new List<(ProbeTargetContext, ScanInput)>();
        public JobState State { get; set; } = JobState.New;
        public bool Ran { get; set; }
        public bool GreylistPending { get; set; }
        /// <summary>A busy greeting is being retried: the next turn runs again whatever the session learnt.</summary>
        public bool BusyPending { get; set; }
        public int BusyRetries { get; set; }
        public TimeSpan BusyWaited { get; set; }
        public bool Counted { get; set; }
        public LinkedListNode<AddressJob>? Remembered { get; set; }
    }

    internal enum JobState
    {
        /// <summary>Created, waiting for a place among the jobs in flight.</summary>
        New,
        Queued,
        Running,
        /// <summary>Waiting out a greylist or busy delay; a timer queues it again.</summary>
        Delayed,
        /// <summary>Nothing to do: remembered, so that later contexts reuse what it learnt.</summary>
        Idle,
    }

    public sealed partial class RelayScanner
    {
        private readonly Channel<AddressJob> _jobs;
        /// <summary>Bounds the jobs in flight (queued, running or delayed): the resolvers wait for room.</summary>
        private readonly SemaphoreSlim _jobSlots;
        private readonly Task[] _probeWorkers;
        private readonly object _jobsLock = new object();
        private readonly Dictionary<string, AddressJob> _jobsByKey = new Dictionary<string, AddressJob>(StringComparer.Ordinal);
        private readonly Recent<AddressJob> _idleJobs;

        /// <summary>
        /// Adds a context per (address, port); an excluded one (<see cref="ScanOptions.Exclusions"/>, matched on the host
        /// name, <paramref name="otherNames"/> such as the CNAME target, and the address) gets its result at once, and
        /// no job: nothing connects to it.
        /// </summary>
        private async Task StartAddressesAsync(ScanInput item, string target, string? domain, string? host, int? preference, IReadOnlyList<IPAddress> addresses,
            IReadOnlyList<string>? mxHosts = null, bool? isMx = null, IEnumerable<string?>? otherNames = null)
        {
            var names = new List<string?> { host };
            if (otherNames != null) names.AddRange(otherNames);
            foreach (var address in addresses)
            {
                var excludedBy = ExclusionRules.Match(_options.Exclusions, names, address);
                foreach (var port in item.Ports ?? _options.Ports)
                {
                    var probe = new ProbeAddress(target, domain, host, address, port, preference, mxHosts, isMx);
                    item.AddOpen();
                    if (excludedBy != null)
                    {
                        Verbose(() => $"{domain ?? target}: {SmtpConnection.Format(address, port)} not tested: excluded by {excludedBy.Source} '{excludedBy.Text}'");
                        PublishResult(item, ExcludedResult(probe, excludedBy));
                        item.CloseOne(this);
                        continue;
                    }
                    await RegisterAsync(item, probe).ConfigureAwait(false);
                }
            }
        }

        /// <summary>The result of an excluded context: the rule that excluded it, and no session.</summary>
        private static RelayTestResult ExcludedResult(ProbeAddress p, ExclusionEntry e)
        {
            var now = DateTimeOffset.UtcNow;
            var reason = ExclusionRules.Reason(e);
            return p.Describe(new RelayTestResult
            {
                Verdict = RelayVerdict.Excluded,
                ReasonCode = e.Hosted ? RelayReasonCode.ExcludedHosted : RelayReasonCode.Excluded,
                Reason = reason,
                StartTime = now,
                ProbeId = NewProbeId(),
                Tests = Array.Empty<RelayTestOutcome>(),
                Transcript = new[] { new TranscriptEntry(now, "*", reason) },
            });
        }

        /// <summary>Adds a context to the job of its address, creating and queueing the job when needed.</summary>
        private async Task RegisterAsync(ScanInput item, ProbeAddress probe)
        {
            var key = SmtpConnection.Format(probe.Address, probe.Port);
            AddressJob? job;
            bool created = false;
            lock (_jobsLock)
            {
                if (!_jobsByKey.TryGetValue(key, out job))
                {
                    job = new AddressJob(key, _options.MaxConnectionsPerAddress);
                    _jobsByKey[key] = job;
                    created = true;
                }
                else if (job.Remembered != null)
                {
                    _idleJobs.Remove(job.Remembered);
                    job.Remembered = null;
                }
            }
            bool queue = false;
            lock (job.Lock)
            {
                job.Incoming.Add((probe, item));
                if (job.State == JobState.Idle) { job.State = JobState.Queued; queue = true; }
            }
            if (created)
            {
                // Back-pressure: the resolvers wait while too many addresses are in flight.
                try
                {
                    await _jobSlots.WaitAsync(_cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    item.CloseOne(this);
                    throw;
                }
                Interlocked.Increment(ref _addressesKnown);
                lock (job.Lock) { job.State = JobState.Queued; }
                queue = true;
            }
            else if (!queue)
            {
                Verbose(() => $"{probe.Domain ?? probe.Target}: {key} is already being tested in this run; its tests for this domain join that session");
            }
            if (queue) _jobs.Writer.TryWrite(job);
        }

        private async Task ProbeWorkerAsync()
        {
            try
            {
                while (await _jobs.Reader.WaitToReadAsync(_cts.Token).ConfigureAwait(false))
                {
                    while (_jobs.Reader.TryRead(out var job))
                        await RunJobAsync(job).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested) { }
        }

        private async Task RunJobAsync(AddressJob job)
        {
            lock (job.Lock) job.State = JobState.Running;
            try
            {
                while (true)
                {
                    foreach (var (probe, entry) in TakeIncoming(job, null))
                    {
                        ProbeTargetContext ctx;
                        if (job.Session is null)
                        {
                            var locality = await _locality.ConfigureAwait(false);
                            job.Session = new SmtpProbeSession(probe, _options.Probe) { AddressSlots = job.Slots, PreferredTests = _options.PreferredTests, Locality = locality };
                            ctx = job.Session.Primary;
                        }
                        else ctx = job.Session.AddContext(probe);
                        job.Waiting.Add((ctx, entry));
                    }
                    var s = job.Session!;
                    var label = job.Key;
                    if (job.GreylistPending)
                    {
                        job.GreylistPending = false;
                        await s.RetryTemporaryAsync(_cts.Token).ConfigureAwait(false);
                    }
                    else if (s.HasPendingWork && (!job.Ran || job.BusyPending || s.CanTestMore))
                    {
                        job.BusyPending = false;
                        Progress(label);
                        Verbose(() => $"Probing {label}{(job.Ran ? " again, for the domains that joined since" : string.Empty)}");
                        await s.RunFirstAsync(_cts.Token).ConfigureAwait(false);
                        job.Ran = true;
                        if (s.WasBusy && job.BusyRetries < _options.BusyRetries)
                        {
                            var delay = TimeSpan.FromTicks(_options.BusyBackoff.Ticks << job.BusyRetries);
                            if (job.BusyWaited + delay < _options.Probe.Timeout)
                            {
                                job.BusyRetries++;
                                job.BusyWaited += delay;
                                s.ResetBusy(delay);
                                job.BusyPending = true;
                                Verbose(() => $"{label}: busy; trying again in {delay.TotalSeconds:0.#} s");
                                Later(job, delay);
                                return;
                            }
                        }
                        if (s.NeedsGreylistRetry)
                        {
                            Verbose(() => $"{label}: temporary refusals; retrying in {_options.Probe.GreylistRetry.TotalSeconds:0.#} s");
                            job.GreylistPending = true;
                            Later(job, _options.Probe.GreylistRetry);
                            return;
                        }
                    }
                    await WaitForReaderAsync().ConfigureAwait(false);
                    Emit(job);
                    lock (job.Lock)
                    {
                        if (job.Incoming.Count > 0) continue;
                        job.State = JobState.Idle;
                    }
                    Idle(job);
                    return;
                }
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested) { }
            catch (Exception ex)
            {
                // Never a lost input: every context waiting on this address gets an error.
                var incoming = TakeIncoming(job, JobState.Idle);
                foreach (var (_, entry) in job.Waiting) Fail(entry, job.Key, ex);
                foreach (var (_, entry) in incoming) Fail(entry, job.Key, ex);
                job.Waiting.Clear();
                job.Session = null;
                Idle(job);
            }
        }

        /// <summary>The contexts added since the last turn, taken out under the job's lock (setting its state too, when given).</summary>
        private static List<(ProbeAddress Probe, ScanInput Entry)> TakeIncoming(AddressJob job, JobState? state)
        {
            lock (job.Lock)
            {
                var incoming = new List<(ProbeAddress, ScanInput)>(job.Incoming);
                job.Incoming.Clear();
                if (state is { } st) job.State = st;
                return incoming;
            }
        }

        private void Fail(ScanInput entry, string label, Exception ex)
        {
            PublishError(entry, new EngineErrorEvent("ProbeFailed", EngineErrorCategory.NotSpecified, $"Probing {label} failed unexpectedly: {ex.Message}", entry.Input ?? entry.Value, ex));
            entry.CloseOne(this);
        }

        /// <summary>Queues the job again after a delay, without holding a worker meanwhile.</summary>
        private void Later(AddressJob job, TimeSpan delay)
        {
            lock (job.Lock) job.State = JobState.Delayed;
            _ = Task.Delay(delay, _cts.Token).ContinueWith(t =>
            {
                if (t.IsCanceled) return;
                lock (job.Lock) job.State = JobState.Queued;
                _jobs.Writer.TryWrite(job);
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        /// <summary>Writes the result of every waiting context (or its verification request).</summary>
        private void Emit(AddressJob job)
        {
            var s = job.Session!;
            if (!job.Counted)
            {
                job.Counted = true;
                var done = Interlocked.Increment(ref _addressesDone);
                Progress(job.Key, done == Volatile.Read(ref _addressesKnown));
            }
            foreach (var (ctx, entry) in job.Waiting)
            {
                var result = s.BuildResult(ctx, NewProbeId());
                var verifyTest = _options.VerifyAddress is null || result.Verdict != RelayVerdict.Open ? null : s.VerificationTest(ctx, _options.VerifyAddress);
                if (verifyTest != null)
                {
                    // Held open until the caller answers Verify/SkipVerification.
                    entry.AddOpen();
                    Publish(new ScanVerifyRequestEvent(result, entry.Input, s, ctx, verifyTest, entry));
                }
                else
                {
                    PublishResult(entry, result);
                }
                entry.CloseOne(this);
            }
            job.Waiting.Clear();
        }

        /// <summary>A job with nothing to do is remembered (bounded); its place in flight is given back.</summary>
        private void Idle(AddressJob job)
        {
            _jobSlots.Release();
            lock (_jobsLock)
            {
                if (job.Remembered is null) job.Remembered = _idleJobs.Add(job);
            }
        }

        /// <summary>Sends the verification message (the caller said yes to ShouldProcess).</summary>
        public void Verify(ScanVerifyRequestEvent request)
        {
            _ = Task.Run(async () =>
            {
                var r = request.Result;
                try
                {
                    var messageId = VerificationMessage.MessageIdFor(r.ProbeId);
                    await request.Session.VerifyAsync(request.Context, request.Test, _options.VerifyAddress!, test =>
                    {
                        // The header From is always the operator's probe address, whatever envelope sender the variant uses.
                        var msg = VerificationMessage.Create(r, test, _options.VerifyAddress!, _options.Probe.ProbeFrom, _options.OperatorContact, DateTimeOffset.UtcNow, _options.Probe.HeloName);
                        return VerificationMessage.ToDataBytes(msg);
                    }, messageId, _cts.Token).ConfigureAwait(false);
                    var final = request.Session.BuildResult(request.Context, r.ProbeId);
                    final.StartTime = r.StartTime;
                    PublishResult(request.Entry, final);
                }
                catch (OperationCanceledException) when (_cts.IsCancellationRequested) { }
                catch (Exception ex)
                {
                    PublishResult(request.Entry, r);
                    PublishError(request.Entry, new EngineErrorEvent("VerificationFailed", EngineErrorCategory.NotSpecified, $"Verification through {r.ComputerName} failed unexpectedly: {ex.Message}", request.Input ?? r.Target, ex));
                }
                finally { request.Entry.CloseOne(this); }
            });
        }

        /// <summary>Writes the result without verification (-WhatIf, or the user said no).</summary>
        public RelayTestResult SkipVerification(ScanVerifyRequestEvent request)
        {
            lock (request.Entry.Answers) request.Entry.Answers.Add(request.Result);
            request.Entry.CloseOne(this);
            return request.Result;
        }
    }
}
