using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using Omr.Engine.Probing;

namespace Omr.Commands
{
    /// <summary>Tab completion for -Test: the catalogue's names, with what each proves.</summary>
    public sealed class RelayTestNameCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var word = (wordToComplete ?? string.Empty).Trim('\'', '"');
            return RelayTestCatalog.All
                .Where(t => t.Name.StartsWith(word, StringComparison.OrdinalIgnoreCase))
                .Select(t => new CompletionResult(t.Name, t.Name, CompletionResultType.ParameterValue, $"{t.Name}: MAIL FROM:{t.MailFromTemplate} RCPT TO:{t.RcptToTemplate} - {t.Proves}"));
        }
    }
}
