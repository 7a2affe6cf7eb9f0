using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace Omr.Commands
{
    /// <summary>
    /// Runs one of the module's own cmdlets (or a PowerShell command) inside the calling cmdlet, in the
    /// same runspace, on the pipeline thread: Invoke-RelayMonitor composes Test-OpenRelay,
    /// Get-RelayEvidence and Send-RelayNotice this way, so every step binds, validates, asks
    /// ShouldProcess and raises its errors exactly as it does when a user runs it. The output goes to a
    /// sink one object at a time (a scan of ten thousand domains is not held in memory); errors,
    /// warnings and verbose lines are handed back to the caller to write.
    /// </summary>
    internal static class NestedCommand
    {
        /// <summary>What a step left besides its output.</summary>
        internal sealed class Outcome
        {
            public List<ErrorRecord> Errors { get; } = new List<ErrorRecord>();
            public List<string> Warnings { get; } = new List<string>();
            public List<string> Verbose { get; } = new List<string>();
        }

        // A nested command in the current runspace writes its warnings and verbose lines to the host, not
        // to PowerShell.Streams: they are redirected into the output (3>&1 4>&1) and sorted out here, so
        // that the caller writes them under its own -WarningAction and -Verbose. Errors stay in Streams.Error.
        private const string Script = @"param($Command, $Parameters, $InputObject, $HasInput)
if ($HasInput) { $InputObject | & $Command @Parameters 3>&1 4>&1 } else { & $Command @Parameters 3>&1 4>&1 }";

        /// <summary>Runs <paramref name="command"/> with <paramref name="parameters"/> (and <paramref name="input"/> on its pipeline).</summary>
        public static Outcome Run(string command, IDictionary parameters, IEnumerable? input, Action<PSObject> sink)
        {
            var outcome = new Outcome();
            using var ps = PowerShell.Create(RunspaceMode.CurrentRunspace);
            ps.AddScript(Script, useLocalScope: true)
              .AddArgument(command)
              .AddArgument(new Hashtable(parameters, StringComparer.OrdinalIgnoreCase))
              .AddArgument(input)
              .AddArgument(input != null);
            void Sort(PSObject o)
            {
                switch (o.BaseObject)
                {
                    case WarningRecord w: outcome.Warnings.Add(w.Message); break;
                    case VerboseRecord v: outcome.Verbose.Add(v.Message); break;
                    default: sink(o); break;
                }
            }
            try
            {
                ps.Invoke(null, new Sink(Sort));
            }
            catch (PipelineStoppedException)
            {
                throw;
            }
            catch (RuntimeException ex)
            {
                // A terminating error of the step (a state database that is locked, a bad argument):
                // it ends that step, not the run.
                outcome.Errors.Add(ex.ErrorRecord ?? new ErrorRecord(ex, "MonitorStepFailed", ErrorCategory.NotSpecified, command));
            }
            outcome.Errors.AddRange(ps.Streams.Error);
            return outcome;
        }

        /// <summary>An output list that keeps nothing: every object goes to the sink as it arrives.</summary>
        private sealed class Sink : IList<PSObject>
        {
            private readonly Action<PSObject> _sink;
            public Sink(Action<PSObject> sink) => _sink = sink;
            public void Add(PSObject item) { if (item != null) _sink(item); }
            public PSObject this[int index] { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public int Count => 0;
            public bool IsReadOnly => false;
            public void Clear() { }
            public bool Contains(PSObject item) => false;
            public void CopyTo(PSObject[] array, int arrayIndex) { }
            public IEnumerator<PSObject> GetEnumerator() { yield break; }
            public int IndexOf(PSObject item) => -1;
            public void Insert(int index, PSObject item) => Add(item);
            public bool Remove(PSObject item) => false;
            public void RemoveAt(int index) { }
            IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        }
    }
}
