using System;
using System.Management.Automation;
using Omr.Engine.State;
using Omr.Engine.Notices;

namespace Omr.Commands
{
    /// <summary>The error records of a state database problem: StateCorrupt, StateLocked, StateUnavailable (always terminating; the store is never reset).</summary>
    internal static class StateErrors
    {
        public static ErrorRecord Record(Exception ex)
        {
            switch (ex)
            {
                case StateCorruptException c:
                    return new ErrorRecord(c, "StateCorrupt", ErrorCategory.InvalidData, c.Path)
                    {
                        ErrorDetails = new ErrorDetails(c.Message) { RecommendedAction = "Repair the state file or move it away; Omr never resets it." },
                    };
                case StateLockedException l:
                    return new ErrorRecord(l, "StateLocked", ErrorCategory.ResourceBusy, l.Path)
                    {
                        ErrorDetails = new ErrorDetails(l.Message) { RecommendedAction = "Another run holds the state database: run again when it is done." },
                    };
                case StateUnavailableException u:
                    return new ErrorRecord(u, "StateUnavailable", ErrorCategory.ResourceUnavailable, u.Path)
                    {
                        ErrorDetails = new ErrorDetails(u.Message) { RecommendedAction = "Check the path, its permissions and the free disk space." },
                    };
                default:
                    return new ErrorRecord(ex, "StateFailed", ErrorCategory.NotSpecified, null);
            }
        }
    }
}
