using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using Omr.Engine;

namespace Omr.Commands
{
    /// <summary>
    /// Base for cmdlets that do network work: StopProcessing (Ctrl+C) cancels a token that all
    /// engine work observes, so the pipeline stops at once.
    /// </summary>
    public abstract class OmrCmdlet : PSCmdlet, IDisposable
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private bool _disposed;

        protected CancellationToken StopToken => _stop.Token;

        private System.Runtime.GCLatencyMode? _savedGcMode;

        /// <summary>
        /// For the length of a scan: blocking (non-concurrent) garbage collections, which keep the heap
        /// of a many-connection scan tighter. Restored when the command ends.
        /// </summary>
        protected void UseBatchGc()
        {
            if (_savedGcMode != null) return;
            _savedGcMode = System.Runtime.GCSettings.LatencyMode;
            try { System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.Batch; }
            catch (ArgumentOutOfRangeException) { _savedGcMode = null; }
        }

        protected void RestoreGc()
        {
            if (_savedGcMode is System.Runtime.GCLatencyMode mode)
            {
                _savedGcMode = null;
                try { System.Runtime.GCSettings.LatencyMode = mode; }
                catch (ArgumentOutOfRangeException) { /* left as it is */ }
            }
        }

        protected override void StopProcessing()
        {
            _stop.Cancel();
            base.StopProcessing();
        }

        /// <summary>Writes the engine's errors and verbose lines; false for events the cmdlet handles itself.</summary>
        protected bool WriteEngineEvent(EngineEvent e)
        {
            switch (e)
            {
                case EngineErrorEvent err:
                    var ex = err.Exception is null || err.Exception.Message != err.Message ? new InvalidOperationException(err.Message, err.Exception) : err.Exception;
                    WriteError(new ErrorRecord(ex, err.ErrorId, Map(err.Category), err.Target)
                    {
                        ErrorDetails = new ErrorDetails(err.Message) { RecommendedAction = RecommendedAction(err.ErrorId) },
                    });
                    return true;
                case EngineVerboseEvent v:
                    WriteVerbose(v.Message);
                    return true;
                case EngineWarningEvent w:
                    WriteWarning(w.Message);
                    return true;
                default:
                    return false;
            }
        }

        /// <summary>True when verbose output would be shown (-Verbose, or $VerbosePreference not SilentlyContinue).</summary>
        protected bool VerboseWanted()
        {
            if (MyInvocation.BoundParameters.TryGetValue("Verbose", out var v) && v is SwitchParameter sw) return sw.IsPresent;
            var pref = GetVariableValue("VerbosePreference");
            if (pref is ActionPreference ap) return ap != ActionPreference.SilentlyContinue && ap != ActionPreference.Ignore;
            return pref != null && !string.Equals(pref.ToString(), "SilentlyContinue", StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>What the user can do about an error with this id (ErrorDetails.RecommendedAction).</summary>
        protected virtual string? RecommendedAction(string errorId) => null;

        /// <summary>The one exception inside an AggregateException of one (what a faulted task holds), else the exception itself.</summary>
        protected static Exception Unwrap(Exception ex) => ex is AggregateException agg && agg.InnerExceptions.Count == 1 ? agg.InnerExceptions[0] : ex;

        protected static ErrorCategory Map(EngineErrorCategory c) => c switch
        {
            EngineErrorCategory.ObjectNotFound => ErrorCategory.ObjectNotFound,
            EngineErrorCategory.ConnectionError => ErrorCategory.ConnectionError,
            EngineErrorCategory.OperationTimeout => ErrorCategory.OperationTimeout,
            EngineErrorCategory.InvalidData => ErrorCategory.InvalidData,
            EngineErrorCategory.InvalidArgument => ErrorCategory.InvalidArgument,
            EngineErrorCategory.SecurityError => ErrorCategory.SecurityError,
            EngineErrorCategory.WriteError => ErrorCategory.WriteError,
            EngineErrorCategory.InvalidOperation => ErrorCategory.InvalidOperation,
            _ => ErrorCategory.NotSpecified,
        };

        /// <summary>The notice arguments of Send-RelayNotice and Invoke-RelayMonitor: -From a mailbox (InvalidFrom), each list a mailbox of the form user@domain (InvalidAddress), -MinimumProof at least RecipientAccepted.</summary>
        protected void ValidateNoticeArguments(string? from, RelayProof minimumProof, params (IEnumerable<string>? Values, string Name)[] lists)
        {
            if (minimumProof == RelayProof.None)
                ThrowArgument("-MinimumProof None would notice servers that never relayed anything: use RecipientAccepted at the weakest.", "InvalidMinimumProof", minimumProof);
            if (!MailAddressRules.IsNamedMailbox(from))
                ThrowArgument($"-From '{from}' is not a mailbox address.", "InvalidFrom", from);
            foreach (var (values, name) in lists)
                foreach (var a in values ?? Array.Empty<string>())
                    if (!MailAddressRules.IsMailbox(a)) ThrowArgument($"-{name} '{a}' is not a mailbox of the form user@domain.", "InvalidAddress", a);
        }

        /// <summary>An argument error to throw from an expression (ThrowTerminatingError does not return, the compiler does not know).</summary>
        protected Exception ArgumentError(string message, string errorId, object? target)
        {
            ThrowArgument(message, errorId, target);
            return new ArgumentException(message);
        }

        protected void ThrowArgument(string message, string errorId, object? target)
            => ThrowTerminatingError(new ErrorRecord(new ArgumentException(message), errorId, ErrorCategory.InvalidArgument, target));

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            RestoreGc();
            _stop.Cancel();
            _stop.Dispose();
            GC.SuppressFinalize(this);
        }
    }
}
