using System;
using System.Management.Automation;
using System.Threading;

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

        protected override void StopProcessing()
        {
            _stop.Cancel();
            base.StopProcessing();
        }

        protected ErrorRecord Error(Exception exception, string errorId, ErrorCategory category, object? target)
            => new ErrorRecord(exception, errorId, category, target);

        protected void ThrowArgument(string message, string errorId, object? target)
            => ThrowTerminatingError(new ErrorRecord(new ArgumentException(message), errorId, ErrorCategory.InvalidArgument, target));

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _stop.Cancel();
            _stop.Dispose();
            GC.SuppressFinalize(this);
        }
    }
}
