# Dot-sourced by Invoke-Tests.ps1: how many tests passed, failed and were skipped, read from the
# reports the runners write (xunit's TRX, Pester's NUnit XML), never from their console output.

function Read-TrxCounts([string] $Path) {
    $trx = [xml](Get-Content -Raw -LiteralPath $Path)
    $ns = @{ t = 'http://microsoft.com/schemas/VisualStudio/TeamTest/2010' }
    $counts = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($node in Select-Xml -Xml $trx -XPath '//t:Results/t:UnitTestResult' -Namespace $ns) {
        switch ($node.Node.outcome) {
            'Passed' { $counts.Passed++ }
            'NotExecuted' { $counts.Skipped++ }
            'Inconclusive' { $counts.Skipped++ }
            default { $counts.Failed++ }
        }
    }
    [pscustomobject]$counts
}

function Read-NUnitCounts([string] $Path) {
    # Pester's NUnit 2.5 report: one <test-case> per test; a failed container or block with no
    # test cases under it (a script that does not parse, a failing BeforeAll in discovery) is a
    # <test-suite result="Failure"> and counts as one failure.
    $xml = [xml](Get-Content -Raw -LiteralPath $Path)
    $counts = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($case in $xml.SelectNodes('//test-case')) {
        switch ($case.result) {
            'Success' { $counts.Passed++ }
            'Failure' { $counts.Failed++ }
            'Error' { $counts.Failed++ }
            default { if ($case.executed -eq 'True' -and $case.result -eq 'Failure') { $counts.Failed++ } else { $counts.Skipped++ } }
        }
    }
    foreach ($suite in $xml.SelectNodes('//test-suite[@result="Failure"]')) {
        if ($suite.SelectNodes('.//test-case').Count -eq 0) { $counts.Failed++ }
    }
    [pscustomobject]$counts
}

function Read-PesterCounts([string] $Path) {
    # The NUnit report, plus the containers PesterRunner.ps1 lists in <report>.summary.json:
    # containers that failed before any test ran are not in the NUnit report.
    $counts = Read-NUnitCounts $Path
    $summaryFile = "$Path.summary.json"
    if (Test-Path -LiteralPath $summaryFile) {
        $summary = Get-Content -Raw -LiteralPath $summaryFile | ConvertFrom-Json
        $broken = @($summary.FailedContainerPaths)
        if ($broken.Count -gt 0) {
            Write-Warning "Pester: $($broken.Count) test file(s) failed before running any test: $($broken -join ', ')"
            $counts.Failed += $broken.Count
        }
    }
    $counts
}

function Get-RunCounts {
    # The counts of one runner's report, prints them as '   <Name>: N passed, N failed, N skipped'.
    # A run that exits non-zero counts at least one failure; a run that wrote no report counts one.
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Runner,
        [Parameter(Mandatory)] [string] $Report,
        [Parameter(Mandatory)] [scriptblock] $Read,
        [int] $ExitCode
    )
    if (Test-Path -LiteralPath $Report) {
        $counts = & $Read $Report
        if ($ExitCode -ne 0 -and $counts.Failed -eq 0) { $counts.Failed = 1; Write-Warning "$Runner exited $ExitCode with no failed test in the report." }
    }
    else {
        Write-Warning "$Runner exited $ExitCode and wrote no report: counted as one failure."
        $counts = [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 }
    }
    Write-Host "   ${Name}: $($counts.Passed) passed, $($counts.Failed) failed, $($counts.Skipped) skipped"
    $counts
}
