using System;
using System.Collections.Generic;
using Omr.Engine.Notices;
using Omr.Engine.State;
using Omr.Engine.Rules;

namespace Omr.Engine.Service
{
    /// <summary>
    /// A scan with -StatePath, as one step of the service: the run is begun (after the retention prune), and each
    /// result goes prior → remedy (the hidden server) → change → record, committed before the caller writes it, so
    /// Ctrl+C loses nothing. The rules are <see cref="RemedyRules"/> and <see cref="ChangeRules"/>; the state is
    /// <see cref="StateStore"/>. Every state failure is a <see cref="StateException"/>.
    /// </summary>
    public sealed class ScanRecorder : IDisposable
    {
        private readonly StateStore _store;
        private readonly IReadOnlyList<string> _providerMx;
        private readonly Func<DateTimeOffset> _clock;
        private bool _ended;

        private ScanRecorder(StateStore store, long runId, IReadOnlyList<string> providerMx, Func<DateTimeOffset> clock)
        {
            _store = store; RunId = runId; _providerMx = providerMx; _clock = clock;
        }

        public string Path => _store.Path;
        public long RunId { get; }
        /// <summary>Results recorded so far.</summary>
        public int Recorded { get; private set; }

        /// <summary>
        /// Opens the state for a scan (a JSON notice state of earlier versions is imported, <paramref name="warning"/>
        /// says so), deletes what is older than <paramref name="retentionDays"/> and begins the run.
        /// </summary>
        public static ScanRecorder Open(string path, string command, string? parameters, int retentionDays, IReadOnlyList<string>? providerMx,
            Action<string> warning, Action<string> verbose, Func<DateTimeOffset>? clock = null)
        {
            var now = clock ?? (() => DateTimeOffset.UtcNow);
            var store = StateStore.OpenResolved(path, readOnly: false, TimeSpan.FromSeconds(30), warning);
            try
            {
                var pruned = store.Prune(retentionDays, now());
                if (pruned > 0) verbose($"{store.Path}: {pruned} record(s) older than {retentionDays} days deleted.");
                var run = store.Results.BeginRun(command, parameters, now());
                verbose($"State database {store.Path}: run {run}.");
                return new ScanRecorder(store, run, providerMx ?? Array.Empty<string>(), now);
            }
            catch
            {
                store.Dispose();
                throw;
            }
        }

        /// <summary>The addresses tested for <paramref name="domain"/> before whose case is open (or that were hidden): they are tested again.</summary>
        public IReadOnlyList<string> OpenAddresses(string domain) => _store.Results.OpenAddresses(domain);

        /// <summary>
        /// The relay tests that relayed last time for an open case, to run first, so that a fix is confirmed on the
        /// very test that failed. Only an ordering hint: a state failure here is null (recording reports it).
        /// Safe from the scan's worker threads.
        /// </summary>
        public IReadOnlyCollection<string>? PreferredTests(string? domain, string address, int port)
        {
            try
            {
                var prior = _store.Results.Prior(domain, address, port, RunId);
                return prior != null && prior.CaseOpen && prior.RelayedBy.Length > 0 ? prior.RelayedBy : null;
            }
            catch (StateException)
            {
                return null;
            }
        }

        /// <summary>
        /// Decides <paramref name="r"/>'s remedy, Change, OpenSince and NoticedAt against the last recorded result for
        /// its domain, address and port, and records it (committed when this returns).
        /// </summary>
        public void Record(RelayTestResult r)
        {
            var prior = _store.Results.Prior(r.Domain, r.Address, r.Port, RunId);
            if (prior?.ComputerName != null && (r.ComputerName is null || string.Equals(r.ComputerName, r.Address, StringComparison.OrdinalIgnoreCase)) && r.IsMxAddress == false)
                r.ComputerName = prior.ComputerName; // an old address: name it as it was known
            var remedy = RemedyRules.Decide(new RemedyFacts
            {
                Verdict = r.Verdict,
                ReasonCode = r.ReasonCode,
                Reason = r.Reason,
                IsMxAddress = r.IsMxAddress,
                MxHosts = r.MxHosts,
                ComputerName = r.ComputerName,
                ProviderMx = _providerMx,
                WasOpen = prior?.WasOpen == true,
            });
            r.Verdict = remedy.Verdict;
            r.ReasonCode = remedy.Code;
            r.Reason = remedy.Reason;
            // Milliseconds, as the database keeps them: OpenSince reads back equal.
            var start = r.StartTime == default ? _clock() : r.StartTime;
            start = new DateTimeOffset(start.UtcTicks - start.UtcTicks % TimeSpan.TicksPerMillisecond, TimeSpan.Zero);
            var change = ChangeRules.Decide(prior, r.Verdict, start);
            r.Change = change.Change;
            r.OpenSince = change.OpenSince;
            r.NoticedAt = change.OpenSince is DateTimeOffset since ? _store.Results.NoticedAt(r.Domain, r.Address, r.Port, since) : null;
            _store.Results.Record(RunId, r, r.IsMxAddress, r.MxHosts);
            Recorded++;
        }

        /// <summary>Records the run's end (Completed, Stopped) once, and closes the state.</summary>
        public void End(string status)
        {
            if (_ended) return;
            _ended = true;
            try
            {
                _store.Results.EndRun(RunId, status, _clock());
            }
            finally
            {
                _store.Dispose();
            }
        }

        /// <summary>Closes the state; a run not ended stays 'Running' in the runs table.</summary>
        public void Dispose()
        {
            _ended = true;
            _store.Dispose();
        }
    }
}
