using System;

namespace Omr.Engine
{
    /// <summary>Error categories the engine reports; the cmdlets map them onto PowerShell's.</summary>
    public enum EngineErrorCategory
    {
        ObjectNotFound,
        ConnectionError,
        OperationTimeout,
        InvalidData,
        InvalidArgument,
        SecurityError,
        WriteError,
        InvalidOperation,
        NotSpecified,
    }

    /// <summary>What the engine's background work tells the pipeline thread (results, errors, progress, verbose).</summary>
    public abstract class EngineEvent { }

    /// <summary>A per-target problem: becomes a non-terminating ErrorRecord with this stable id.</summary>
    public sealed class EngineErrorEvent : EngineEvent
    {
        public EngineErrorEvent(string errorId, EngineErrorCategory category, string message, object? target, Exception? exception)
        {
            ErrorId = errorId; Category = category; Message = message; Target = target; Exception = exception;
        }

        public string ErrorId { get; }
        public EngineErrorCategory Category { get; }
        public string Message { get; }
        /// <summary>The input the error is about (the TargetObject).</summary>
        public object? Target { get; }
        public Exception? Exception { get; }
    }

    /// <summary>Something the user should know that is not an error (WriteWarning).</summary>
    public sealed class EngineWarningEvent : EngineEvent
    {
        public EngineWarningEvent(string message) { Message = message; }
        public string Message { get; }
    }

    public sealed class EngineVerboseEvent : EngineEvent
    {
        public EngineVerboseEvent(string message) { Message = message; }
        public string Message { get; }
    }
}
