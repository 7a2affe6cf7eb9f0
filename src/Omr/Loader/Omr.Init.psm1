# Omr.Init.psm1: the manifest's only NestedModule (copied to out/Omr/ by build.ps1).
#
# PowerShell loads NestedModules before the RootModule. This one loads Omr.dll and lets it hook
# dependency resolution (Omr.Loader.ModuleInitializer.Initialize) BEFORE PowerShell scans Omr.dll
# for cmdlets: that scan already needs Omr.Engine (a parameter of an engine enum type makes the
# runtime load it with the cmdlet type), which is earlier than any IModuleAssemblyInitializer runs.
#
# The dependencies (Omr.Engine, MailKit, MimeKit, DnsClient, BouncyCastle, ...) live in
# ./dependencies: on PowerShell 7 they load into their own AssemblyLoadContext ("Omr"), so another
# module's copies of the same libraries cannot collide with ours; on Windows PowerShell 5.1 they
# are resolved from that folder through AppDomain.AssemblyResolve.

$omrAssembly = [System.Reflection.Assembly]::LoadFrom([System.IO.Path]::Combine($PSScriptRoot, 'Omr.dll'))
$null = $omrAssembly.GetType('Omr.Loader.ModuleInitializer', $true).GetMethod('Initialize').Invoke($null, @())
Export-ModuleMember
