#Requires -Version 7.2
# tools/TestResults.ps1: the counts behind the last line CI reads ('N passed, N failed'), and the
# failed tests named with their first message line, which the test run prints just above it.

BeforeAll {
    . (Join-Path (Split-Path -Parent $PSScriptRoot) 'tools/TestResults.ps1')
}

Describe 'Reading the runners'' reports' -Tag Build {
    It 'counts a TRX report and names each failed xunit test with the first line of its message' {
        $trx = Join-Path $TestDrive 'x.trx'
        Set-Content -LiteralPath $trx -Value @'
<?xml version="1.0" encoding="utf-8"?>
<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
  <Results>
    <UnitTestResult testName="A.Passes" outcome="Passed" />
    <UnitTestResult testName="A.Fails" outcome="Failed">
      <Output><ErrorInfo><Message>Assert.True() Failure
Expected: True
Actual:   False</Message><StackTrace>at A.Fails()</StackTrace></ErrorInfo></Output>
    </UnitTestResult>
    <UnitTestResult testName="A.Skipped" outcome="NotExecuted" />
    <UnitTestResult testName="A.Broke" outcome="Error" />
  </Results>
</TestRun>
'@
        $c = Read-TrxCounts $trx
        ($c.Passed, $c.Failed, $c.Skipped) | Should -Be (1, 2, 1)
        @($c.Failures) | Should -Be @('xunit A.Fails: Assert.True() Failure', 'xunit A.Broke')
    }

    It 'counts an NUnit report and names failed tests and a failed block with no test under it' {
        $xml = Join-Path $TestDrive 'p.xml'
        Set-Content -LiteralPath $xml -Value @'
<?xml version="1.0" encoding="utf-8"?>
<test-results>
  <test-suite name="tests" result="Failure">
    <results>
      <test-case name="Block.passes" executed="True" result="Success" />
      <test-case name="Block.fails" executed="True" result="Failure"><failure><message>Expected 1, but got 2.</message></failure></test-case>
      <test-case name="Block.skipped" executed="False" result="Ignored" />
      <test-suite name="Broken.Tests.ps1" result="Failure"><failure><message>
RuntimeException: the BeforeAll failed</message></failure></test-suite>
    </results>
  </test-suite>
</test-results>
'@
        $c = Read-NUnitCounts $xml
        ($c.Passed, $c.Failed, $c.Skipped) | Should -Be (1, 2, 1)
        @($c.Failures) | Should -Be @('pester Block.fails: Expected 1, but got 2.', 'pester Broken.Tests.ps1: RuntimeException: the BeforeAll failed')
    }

    It 'counts one failure, named, for a runner that wrote no report or exited non-zero with none failed' {
        $none = Get-RunCounts -Name xunit -Runner 'dotnet test' -Report (Join-Path $TestDrive 'absent.trx') -Read ${function:Read-TrxCounts} -ExitCode 3 3>$null 6>$null
        ($none.Passed, $none.Failed) | Should -Be (0, 1)
        @($none.Failures) | Should -Be @('xunit: dotnet test exited 3 and wrote no report')

        $trx = Join-Path $TestDrive 'ok.trx'
        Set-Content -LiteralPath $trx -Value '<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010"><Results><UnitTestResult testName="A" outcome="Passed" /></Results></TestRun>'
        $odd = Get-RunCounts -Name xunit -Runner 'dotnet test' -Report $trx -Read ${function:Read-TrxCounts} -ExitCode 1 3>$null 6>$null
        ($odd.Passed, $odd.Failed) | Should -Be (1, 1)
        @($odd.Failures) | Should -Be @('xunit: dotnet test exited 1 with no failed test in the report')
    }

    It 'truncates a very long first line' {
        Get-FailureLine 'n' ('x' * 500) | Should -Be ('n: ' + 'x' * 240 + '...')
    }
}
