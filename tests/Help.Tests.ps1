#Requires -Version 7.2
# The help a newcomer reads: every parameter of every exported cmdlet described, at least three
# real examples per cmdlet, and about_Omr (found by Get-Help) documenting every verdict, proof
# level, reason code, relay test and error id that the module has. Generic: it runs over whatever
# the built module exports and whatever ids the sources raise.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:Cmdlets = @((Get-Module Omr).ExportedCmdlets.Keys | Sort-Object | ForEach-Object { @{ Name = $_ } })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:ModulePath = Get-OmrModulePath
    $script:ModuleDir = Split-Path -Parent $ModulePath
    $script:SrcDir = Join-Path (Split-Path -Parent $PSScriptRoot) 'src'
    $script:Common = @([System.Management.Automation.PSCmdlet]::CommonParameters) + @([System.Management.Automation.PSCmdlet]::OptionalCommonParameters)
    # All about_Omr* topics shipped with the module, as one text (about_Omr and the topics it links to).
    $script:AboutFiles = @(Get-ChildItem -LiteralPath (Join-Path $ModuleDir 'en-US') -Filter 'about_Omr*.help.txt')
    $script:AboutText = ($AboutFiles | ForEach-Object { Get-Content -Raw -LiteralPath $_.FullName }) -join "`n"
    # A whole word of the about topics (ids and names are not parts of longer words).
    $script:Documented = { param($word) $AboutText -cmatch ('(?<![\w-]){0}(?![\w-])' -f [regex]::Escape($word)) }
}

Describe 'Cmdlet help: <Name>' -Tag Help -ForEach $Cmdlets {
    BeforeAll {
        $script:Command = Get-Command $Name -Module Omr
        $script:Help = Get-Help $Name -Full
    }

    It 'comes from the MAML file, with a synopsis and a description' {
        $Help.Synopsis | Should -Not -BeNullOrEmpty
        $Help.Synopsis | Should -Not -Match ('^\s*{0} \[' -f [regex]::Escape($Name)) -Because 'an auto-generated syntax line is not help'
        ($Help.Description.Text -join '') | Should -Not -BeNullOrEmpty
    }

    It 'describes every public parameter' {
        $missing = foreach ($p in $Command.Parameters.Keys) {
            if ($p -in $Common) { continue }
            $entry = @($Help.Parameters.Parameter | Where-Object Name -EQ $p)
            if ($entry.Count -ne 1 -or -not (($entry[0].Description.Text -join '').Trim())) { $p }
        }
        @($missing) | Should -BeNullOrEmpty -Because "every parameter of $Name needs a description in en-US/Omr.dll-Help.xml"
    }

    It 'documents no parameter the cmdlet does not have' {
        $extra = @($Help.Parameters.Parameter | Where-Object { $_.Name -notin $Command.Parameters.Keys } | ForEach-Object Name)
        $extra | Should -BeNullOrEmpty
    }

    It 'has at least three examples, each with code and a remark' {
        $examples = @($Help.Examples.Example)
        $examples.Count | Should -BeGreaterOrEqual 3
        foreach ($e in $examples) {
            "$($e.Code)".Trim() | Should -Not -BeNullOrEmpty -Because "$($e.Title) needs code"
            ($e.Remarks.Text -join '').Trim() | Should -Not -BeNullOrEmpty -Because "$($e.Title) needs a remark"
        }
    }

    It 'has an interactive domain check, a scheduled list with CSV export and an Exchange/AD inventory pipeline among its examples' {
        $codes = @($Help.Examples.Example | ForEach-Object { "$($_.Code)" })
        # One domain by name, on the line of Test-OpenRelay or of this cmdlet (contoso.com, -Domain contoso.com).
        $single = '(?m)(Test-OpenRelay|{0})[^|\r\n]*\s(-Domain\s+)?[a-z0-9-]+\.(com|net|org)(\s|$)' -f [regex]::Escape($Name)
        @($codes | Where-Object { $_ -match $single }) | Should -Not -BeNullOrEmpty -Because 'one example checks one domain interactively'
        @($codes | Where-Object { $_ -match 'Get-Content|Import-Csv' -and $_ -match 'Export-Csv' }) | Should -Not -BeNullOrEmpty -Because 'one example runs a list and exports CSV'
        @($codes | Where-Object { $_ -match 'Get-AcceptedDomain|Get-ExchangeServer|Get-ADDomain|Get-ADComputer' }) | Should -Not -BeNullOrEmpty -Because 'one example starts from an Exchange or AD inventory'
        @($codes | Where-Object { $_ -match [regex]::Escape($Name) }) | Should -Not -BeNullOrEmpty
    }

    It 'names only parameters in its examples that the cmdlet has' {
        # "<Name> ... -Param": a mistyped or removed parameter in an example is a broken example.
        foreach ($code in @($Help.Examples.Example | ForEach-Object { "$($_.Code)" })) {
            $tokens = $null
            $ast = [System.Management.Automation.Language.Parser]::ParseInput($code, [ref]$tokens, [ref]$null)
            $calls = $ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.CommandAst] -and $n.GetCommandName() -eq $Name }, $true)
            foreach ($call in $calls) {
                foreach ($el in $call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] }) {
                    $known = @($Command.Parameters.Keys) + @($Command.Parameters.Values | ForEach-Object Aliases)
                    $matched = @($known | Where-Object { $_ -like "$($el.ParameterName)*" })
                    $matched | Should -Not -BeNullOrEmpty -Because "-$($el.ParameterName) in an example of $Name must exist"
                }
            }
        }
    }
}

Describe 'about_Omr' -Tag Help {
    It 'ships in en-US/ and is found by Get-Help about_Omr in a fresh pwsh, from PSModulePath' {
        Join-Path $ModuleDir 'en-US/about_Omr.help.txt' | Should -Exist
        # A fresh process that has not imported Omr: the module is found where it is installed.
        $modules = Split-Path -Parent $ModuleDir
        $child = "`$env:PSModulePath = '$modules' + [IO.Path]::PathSeparator + `$env:PSModulePath; (Get-Help about_Omr | Out-String)"
        $text = & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command $child 2>&1 | Out-String
        $LASTEXITCODE | Should -Be 0 -Because $text
        $text | Should -Match 'TOPIC\s+about_Omr'
        $text | Should -Match 'SHORT DESCRIPTION'
    }

    It 'is found by Get-Help in this session' {
        $help = Get-Help about_Omr | Out-String
        $help | Should -Match 'about_Omr'
        $help.Length | Should -BeGreaterThan 2000
    }

    It 'documents every verdict of [Omr.RelayVerdict]' {
        $missing = @([enum]::GetNames([Omr.RelayVerdict]) | Where-Object { -not (& $Documented $_) })
        $missing | Should -BeNullOrEmpty
    }

    It 'documents every proof level of [Omr.RelayProof]' {
        $missing = @([enum]::GetNames([Omr.RelayProof]) | Where-Object { -not (& $Documented $_) })
        $missing | Should -BeNullOrEmpty
    }

    It 'documents every reason code of [Omr.RelayReasonCode]' {
        $names = [enum]::GetNames([Omr.RelayReasonCode])
        $names.Count | Should -BeGreaterThan 10
        $missing = @($names | Where-Object { -not (& $Documented $_) })
        $missing | Should -BeNullOrEmpty
    }

    It 'documents every relay test of the catalogue' {
        # The names come from the engine itself: -Test's tab completion.
        $names = @((TabExpansion2 -inputScript 'Test-OpenRelay -Test ' -cursorColumn 'Test-OpenRelay -Test '.Length).CompletionMatches.CompletionText)
        $names.Count | Should -BeGreaterThan 20
        $missing = @($names | Where-Object { -not (& $Documented $_) })
        $missing | Should -BeNullOrEmpty
    }

    It 'documents every error id that the sources raise, with a category' {
        # The ids passed to ErrorRecord, ThrowArgument, EngineErrorEvent, PlanError and Run, the
        # ids chosen in switch expressions, and the DiscoveryErrorKind names used as ids.
        $files = Get-ChildItem -LiteralPath $SrcDir -Recurse -Filter *.cs |
            Where-Object { $_.FullName -notmatch '[\\/](Omr\.Lab|Omr\.Fleet|obj|bin)[\\/]' }
        $ids = [System.Collections.Generic.SortedSet[string]]::new([StringComparer]::Ordinal)
        foreach ($f in $files) {
            $text = Get-Content -Raw -LiteralPath $f.FullName
            foreach ($line in $text -split "`n") {
                if ($line -match 'ErrorRecord\(|ThrowArgument\(|EngineErrorEvent\(|PlanError\(|ErrorId\s*=|errorId|\bRun\(|=>\s*\("|^\s*"\w+"\s*=>|InvalidTargetId\s*=') {
                    foreach ($m in [regex]::Matches($line, '"([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+)"')) { [void]$ids.Add($m.Groups[1].Value) }
                }
            }
            foreach ($m in [regex]::Matches($text, 'enum DiscoveryErrorKind\s*\{([^}]*)\}')) {
                foreach ($n in [regex]::Matches(($m.Groups[1].Value -replace '///[^\n]*', ''), '\b([A-Z]\w+)\s*,?')) { [void]$ids.Add($n.Groups[1].Value) }
            }
        }
        $ids.Count | Should -BeGreaterThan 30 -Because 'the scan of the sources must find the ids'
        foreach ($known in 'DomainNotFound', 'InvalidTarget', 'MailboxAuthFailed', 'StateCorrupt', 'NoContact') { $ids | Should -Contain $known }
        $missing = @($ids | Where-Object { -not (& $Documented $_) })
        $missing | Should -BeNullOrEmpty -Because 'every error id needs a line in about_Omr (ERRORS)'
        # Each documented id line names a PowerShell error category.
        $categories = [enum]::GetNames([System.Management.Automation.ErrorCategory])
        foreach ($id in $ids) {
            $lines = @($AboutText -split "`n")
            $at = @(for ($i = 0; $i -lt $lines.Count; $i++) { if ($lines[$i] -cmatch ('^\s+{0}(\s|$)' -f [regex]::Escape($id))) { $i } }) | Select-Object -First 1
            $at | Should -Not -BeNullOrEmpty -Because "$id needs a row (id, category, meaning)"
            # The category follows the id on its line, or opens the next line when the id is long.
            $tokens = @($lines[$at].Trim() -split '\s+')
            $category = if ($tokens.Count -ge 2) { $tokens[1] } else { @($lines[$at + 1].Trim() -split '\s+')[0] }
            $category = $category.TrimEnd(',')
            $categories | Should -Contain $category -Because "the row of $id names its category"
        }
    }

    It 'points to about_Omr_State for the state schema, and to the README for scale-out' {
        $about = Get-Content -Raw -LiteralPath (Join-Path $ModuleDir 'en-US/about_Omr.help.txt')
        $about | Should -Match 'about_Omr_State'
        $about | Should -Match 'SAFETY'
        $about | Should -Match 'Scale out'
        $readme = Get-Content -Raw -LiteralPath (Join-Path (Split-Path -Parent $PSScriptRoot) 'README.md')
        $readme | Should -Match '## Scale out'
    }
}
