# Dot-sourced by Invoke-Tests.ps1: how many tests passed, failed and were skipped, read from the
# reports the runners write (xunit's TRX, Pester's NUnit XML), never from their console output.
# Each failed test is kept by name, with the first line of its message, so that the end of a long
# run says which tests failed (a CI log is often read from its tail only); Failed is the count of
# that list, never kept apart from it.

function Get-FailureLine([string] $Name, [string] $Message) {
    $first = ($Message -split "`r?`n") | Where-Object { $_.Trim() } | Select-Object -First 1
    if (-not $first) { return $Name }
    $first = $first.Trim()
    if ($first.Length -gt 240) { $first = $first.Substring(0, 240) + '...' }
    "${Name}: $first"
}

function Read-TrxCounts([string] $Path) {
    $trx = [xml](Get-Content -Raw -LiteralPath $Path)
    $ns = @{ t = 'http://microsoft.com/schemas/VisualStudio/TeamTest/2010' }
    $counts = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0; Failures = [System.Collections.Generic.List[string]]::new() }
    foreach ($node in Select-Xml -Xml $trx -XPath '//t:Results/t:UnitTestResult' -Namespace $ns) {
        switch ($node.Node.outcome) {
            'Passed' { $counts.Passed++ }
            'NotExecuted' { $counts.Skipped++ }
            'Inconclusive' { $counts.Skipped++ }
            default { $counts.Failures.Add((Get-FailureLine "xunit $($node.Node.testName)" "$($node.Node.Output.ErrorInfo.Message)")) }
        }
    }
    $counts.Failed = $counts.Failures.Count
    [pscustomobject]$counts
}

function Read-NUnitCounts([string] $Path) {
    # Pester's NUnit 2.5 report: one <test-case> per test; a failed container or block with no
    # test cases under it (a script that does not parse, a failing BeforeAll in discovery) is a
    # <test-suite result="Failure"> and counts as one failure.
    $xml = [xml](Get-Content -Raw -LiteralPath $Path)
    $counts = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0; Failures = [System.Collections.Generic.List[string]]::new() }
    foreach ($case in $xml.SelectNodes('//test-case')) {
        switch ($case.result) {
            'Success' { $counts.Passed++ }
            { $_ -in 'Failure', 'Error' } { $counts.Failures.Add((Get-FailureLine "pester $($case.name)" "$($case.SelectSingleNode('failure/message').InnerText)")) }
            default { $counts.Skipped++ }
        }
    }
    foreach ($suite in $xml.SelectNodes('//test-suite[@result="Failure"]')) {
        if ($suite.SelectNodes('.//test-case').Count -eq 0) {
            $counts.Failures.Add((Get-FailureLine "pester $($suite.name)" "$($suite.SelectSingleNode('failure/message').InnerText)"))
        }
    }
    $counts.Failed = $counts.Failures.Count
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
            foreach ($path in $broken) { $counts.Failures.Add("pester ${path}: failed before running any test") }
            $counts.Failed = $counts.Failures.Count
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
        if ($ExitCode -ne 0 -and $counts.Failed -eq 0) {
            $counts.Failures.Add("${Name}: $Runner exited $ExitCode with no failed test in the report")
            $counts.Failed = $counts.Failures.Count
            Write-Warning "$Runner exited $ExitCode with no failed test in the report."
        }
    }
    else {
        Write-Warning "$Runner exited $ExitCode and wrote no report: counted as one failure."
        $counts = [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0; Failures = @("${Name}: $Runner exited $ExitCode and wrote no report") }
    }
    Write-Host "   ${Name}: $($counts.Passed) passed, $($counts.Failed) failed, $($counts.Skipped) skipped"
    $counts
}
