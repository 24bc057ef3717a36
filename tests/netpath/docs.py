"""The documented rules the evaluator's tests check, each with its page and
the sentence it rests on (AWS VPC User Guide, PrivateLink and Peering
guides, Lambda Developer Guide). Every test in tests/netpath/ cites one of
these with @cites(KEY); test_citations.py checks that they all do."""
from __future__ import annotations

VPC = "https://docs.aws.amazon.com/vpc/latest/userguide/"

DOCS = {
    # security groups
    "sg-stateful": (VPC + "vpc-security-groups.html",
                    "Security groups are stateful - if you send a request from your instance, the response traffic for "
                    "that request is allowed to flow in regardless of inbound security group rules. Responses to allowed "
                    "inbound traffic are allowed to flow out, regardless of outbound rules."),
    "sg-allow-only": (VPC + "security-group-rules.html",
                      "You can specify allow rules, but not deny rules."),
    "sg-no-inbound": (VPC + "security-group-rules.html",
                      "When you create a security group, it has no inbound rules. Therefore, no inbound traffic originating "
                      "from another host to your instance is allowed until you add inbound rules to the security group."),
    "sg-default-outbound": (VPC + "security-group-rules.html",
                            "By default, a security group includes an outbound rule that allows all outbound traffic. ... If "
                            "your security group has no outbound rules, no outbound traffic originating from your instance is "
                            "allowed."),
    "sg-aggregate": ("https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-rules.html",
                     "If there is more than one rule for a specific port, we apply the most permissive rule. ... When you "
                     "associate multiple security groups with an instance, the rules from each security group are "
                     "effectively aggregated to create one set of rules."),
    "sg-reference": (VPC + "security-group-rules.html",
                     "When you specify a security group as the source for a rule, traffic is allowed from the elastic "
                     "network interfaces (ENI) for the instances associated with the source security group for the "
                     "specified protocol and port."),
    "sg-rule-parts": (VPC + "security-group-rules.html",
                      "(Outbound rules only) The destination for the traffic and the destination port or port range. The "
                      "destination can be another security group, an IPv4 or IPv6 CIDR block, a single IPv4 or IPv6 "
                      "address, or a prefix list ID. ... Any protocol that has a standard protocol number."),
    "sg-ipv4-ipv6": (VPC + "security-group-rules.html",
                     "If you specify a single IPv4 address, specify the address using the /32 prefix length. If you "
                     "specify a single IPv6 address, specify it using the /128 prefix length."),
    "peering-sg": ("https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-security-groups.html",
                   "You can update the inbound or outbound rules for your VPC security groups to reference security groups "
                   "in the peered VPC ... The VPCs must be in the same Region."),
    # network ACLs
    "nacl-order": (VPC + "nacl-rules.html",
                   "Rules are evaluated starting with the lowest numbered rule. As soon as a rule matches traffic, it's "
                   "applied regardless of any higher-numbered rule that might contradict it."),
    "nacl-star": (VPC + "default-network-acl.html",
                  "Each network ACL also includes a rule whose rule number is an asterisk (*). This rule ensures that if a "
                  "packet doesn't match any of the other numbered rules, it's denied. You can't modify or remove this rule."),
    "nacl-default": (VPC + "default-network-acl.html",
                     "The default network ACL is configured to allow all traffic to flow in and out of the subnets with "
                     "which it is associated."),
    "nacl-custom-denies": (VPC + "nacl-basics.html",
                           "You can create a custom network ACL and associate it with a subnet. By default, each custom "
                           "network ACL denies all inbound and outbound traffic until you add rules."),
    "nacl-stateless": (VPC + "nacl-basics.html",
                       "NACLs are stateless, which means that information about previously sent or received traffic is not "
                       "saved. If, for example, you create a NACL rule to allow specific inbound traffic to a subnet, "
                       "responses to that traffic are not automatically allowed."),
    "nacl-association": (VPC + "nacl-basics.html",
                         "Each subnet in your VPC must be associated with a network ACL. If you don't explicitly associate "
                         "a subnet with a network ACL, the subnet is automatically associated with the default network ACL."),
    "nacl-boundary": (VPC + "nacl-basics.html",
                      "We evaluate the network ACL rules when traffic enters and leaves the subnet, not as it is routed "
                      "within a subnet."),
    "nacl-ephemeral": (VPC + "nacl-ephemeral-ports.html",
                       "The client that initiates the request chooses the ephemeral port range. ... AWS Lambda functions use "
                       "ports 1024-65535. Many Linux kernels (including the Amazon Linux kernel) use ports 32768-61000. "
                       "Windows Server 2008 and later versions use ports 49152-65535."),
    "nacl-ipv6": (VPC + "custom-network-acl.html",
                  "IPv4 and IPv6 traffic are evaluated separately. Therefore, none of the rules for IPv4 traffic apply to "
                  "IPv6 traffic."),
    "nacl-protocol": (VPC + "nacl-rules.html",
                      "Protocol. You can specify any protocol that has a standard protocol number. ... Port range. The "
                      "listening port or port range for the traffic."),
    "nacl-deny-first": (VPC + "nacl-ephemeral-ports.html",
                        "You can also add rules to the ACL to deny traffic on any malicious ports within that range. Ensure "
                        "that you place the deny rules earlier in the table than the allow rules that open the wide range "
                        "of ephemeral ports."),
    # routing
    "rt-association": (VPC + "subnet-route-tables.html",
                       "Each subnet in your VPC must be associated with a route table ... You can explicitly associate a "
                       "subnet with a particular route table. Otherwise, the subnet is implicitly associated with the main "
                       "route table."),
    "rt-local": (VPC + "subnet-route-tables.html",
                 "Every route table contains a local route for communication within the VPC."),
    "rt-longest-prefix": (VPC + "route-tables-priority.html",
                          "We direct traffic using the most specific route that matches the traffic. This is known as the "
                          "longest prefix match."),
    "rt-static": (VPC + "route-tables-priority.html",
                  "If the destination of a propagated route is identical to the destination of a static route, the static "
                  "route takes priority."),
    "rt-prefix-list": (VPC + "route-tables-priority.html",
                       "Route priority: 1. Longest prefix 2. Static routes (like VPC peering and internet gateway "
                       "connections) 3. Prefix list routes 4. Propagated routes."),
    "rt-blackhole": ("https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html",
                     "State: The state of the route. The blackhole state indicates that the route's target isn't available "
                     "(for example, the specified gateway isn't attached to the VPC, or the specified NAT instance has "
                     "been terminated)."),
    "peering-routes": ("https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-routing.html",
                       "To enable the flow of traffic between the VPCs using private IP addresses, the owner of each VPC in "
                       "the VPC peering connection must add a route to one or more of their VPC route tables that points "
                       "to the IP address range of the other VPC (the peer VPC)."),
    "peering-transitive": ("https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html",
                           "(paraphrased) VPC peering is not transitive; a peering connection carries traffic only once it "
                           "is active (accepted); peered VPCs cannot have overlapping CIDR blocks."),
    "igw-public-ip": (VPC + "VPC_Internet_Gateway.html",
                      "(paraphrased) For internet access through an internet gateway, the subnet's route table must route "
                      "internet-bound traffic to the internet gateway and the instance must have a public IPv4 address "
                      "or an Elastic IP address."),
    "nat": (VPC + "vpc-nat-gateway.html",
            "(paraphrased) A public NAT gateway lives in a public subnet, whose route table sends traffic to the internet "
            "gateway; private subnets route internet-bound traffic to the NAT gateway."),
    "lambda-vpc": ("https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc-internet.html",
                   "(paraphrased) By default, Lambda functions run in a Lambda-managed VPC with internet access; a function "
                   "attached to your VPC gets no public IP address, so it needs a route to a NAT gateway to reach the "
                   "internet, and an internet gateway route alone does not help."),
    "tgw": ("https://docs.aws.amazon.com/vpc/latest/tgw/how-transit-gateways-work.html",
            "(paraphrased) A transit gateway routes packets between attachments with its own route tables; each VPC's "
            "route tables must send the traffic to the transit gateway, in both directions."),
    # endpoints
    "gw-endpoint": ("https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html",
                    "Each subnet route table must have a route that sends traffic destined for the service to the gateway "
                    "endpoint using the prefix list for the service."),
    "if-endpoint": ("https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html",
                    "Specify the security groups to associate with the endpoint network interface. The security group "
                    "rules control the traffic to the endpoint network interface from resources in your VPC. ... Enable "
                    "private DNS for the endpoint to enable you to make requests to the service using its default DNS "
                    "hostname."),
    "ep-policy": ("https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html",
                  "An endpoint policy is a resource-based policy that you attach to a VPC endpoint to control which AWS "
                  "principals can use the endpoint to access an AWS service. ... If you don't attach an endpoint policy, "
                  "we attach the default endpoint policy, which grants full access."),
    "rds-vpc": ("https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html",
                "(paraphrased) A DB instance in a VPC sits in a subnet of its DB subnet group, in its Availability Zone "
                "(a Multi-AZ standby in another); its VPC security groups control access to it."),
}


def cites(key: str):
    """Mark a test with the documented rule it checks."""
    if key not in DOCS:
        raise KeyError(f"unknown rule {key!r}")

    def mark(fn):
        fn.cites = key
        return fn
    return mark
