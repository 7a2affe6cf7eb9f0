using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;

namespace Omr.Commands
{
    /// <summary>
    /// Makes whole inventory objects bind to -Domain as what they mean, not as their ToString():
    /// an object with a DomainName/DNSRoot property gives that value (a local Exchange shell's
    /// AcceptedDomain.ToString() is its display name, not its domain); an object that only
    /// carries a host (Fqdn, DNSHostName, HostName, IPAddress) is refused here, so it binds to
    /// -ComputerName, and -Domain gets only the object's own Domain property (its context) or
    /// nothing. (Throwing here would abort the whole binding, so a host object yields an empty
    /// array that the cmdlet ignores.)
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    public sealed class DomainInputTransformAttribute : ArgumentTransformationAttribute
    {
        private static readonly string[] DomainProperties = { "DomainName", "DNSRoot" };
        private static readonly string[] HostProperties = { "Fqdn", "DNSHostName", "HostName", "IPAddress", "ComputerName" };

        public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
        {
            var value = inputData is PSObject p ? p.BaseObject : inputData;
            if (value is null || value is string || value is string[]) return inputData;
            var items = new List<object?>();
            if (value is IEnumerable list && !(value is IDictionary))
            {
                foreach (var item in list) items.Add(One(item));
            }
            else
            {
                items.Add(One(inputData));
            }
            items.RemoveAll(i => i is null);
            return items.ToArray();
        }

        private static object? One(object? item)
        {
            if (item is null) return null;
            var pso = PSObject.AsPSObject(item);
            if (pso.BaseObject is string) return pso.BaseObject;
            foreach (var name in DomainProperties)
            {
                var prop = pso.Properties[name];
                if (prop?.Value != null) return prop.Value.ToString();
            }
            foreach (var name in HostProperties)
            {
                if (pso.Properties[name]?.Value != null)
                    return pso.Properties["Domain"]?.Value?.ToString();
            }
            // A property bag with neither (ConvertFrom-Json, Import-Csv, [pscustomobject]) has no
            // domain to give: its "@{...}" text is none. Typed objects keep their ToString().
            if (pso.BaseObject is PSCustomObject) return pso.Properties["Domain"]?.Value?.ToString();
            return item;
        }
    }
}
