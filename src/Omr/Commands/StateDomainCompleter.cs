using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using Omr.Engine.State;

namespace Omr.Commands
{
    /// <summary>Tab completion for -Domain: the domains recorded in the -StatePath already typed on the line (read-only; nothing when there is none).</summary>
    public sealed class StateDomainCompleter : IArgumentCompleter
    {
        private const int Max = 100;

        // The completer gets no session state: a relative -StatePath is resolved against the current
        // PowerShell location (which is not the process's working directory) by the runspace itself.
        private static readonly ScriptBlock ResolvePath = ScriptBlock.Create("$ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($args[0])");

        private static string Resolve(string statePath)
        {
            if (Path.IsPathRooted(statePath)) return statePath;
            var resolved = ResolvePath.Invoke(statePath).FirstOrDefault()?.BaseObject as string;
            return resolved ?? Path.GetFullPath(statePath);
        }

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var statePath = fakeBoundParameters?["StatePath"] as string;
            if (string.IsNullOrWhiteSpace(statePath)) return Array.Empty<CompletionResult>();
            try
            {
                var path = Resolve(statePath!);
                if (!File.Exists(path)) return Array.Empty<CompletionResult>();
                using var store = StateStore.Open(path, readOnly: true, TimeSpan.FromSeconds(1));
                var word = (wordToComplete ?? string.Empty).Trim('\'', '"');
                return store.Results.Domains(word, Max)
                    .Select(d => new CompletionResult(d, d, CompletionResultType.ParameterValue, d))
                    .ToList();
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                // A completer never fails the line being typed: a locked, corrupt or foreign file completes nothing.
                return Array.Empty<CompletionResult>();
            }
        }
    }
}
