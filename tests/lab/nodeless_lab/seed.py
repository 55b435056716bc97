"""What the lab's AWS account holds, created through moto's API, then the few edits moto's API
cannot make (done on moto's in-process backend):

- a VPC with public subnets (default route to an internet gateway) and private subnets (default
  route to a NAT gateway) in three zones, a cluster security group;
- the EKS cluster (version = the lab's Kubernetes minor) whose endpoint, CA data and OIDC issuer
  are the lab's API server; a second cluster ``<name>-no-oidc`` without an issuer, for bad input;
- two managed node groups with their ASGs, named as EKS names them (``eks-<group>-<uuid>``);
- a public and a private Route 53 hosted zone;
- the EKS-optimized Amazon Linux 2023 AMIs of the lab's Kubernetes minor (x86_64 and arm64) and the
  public SSM parameters naming them, which Karpenter's ``al2023@latest`` alias resolves.
"""
from __future__ import annotations

import base64
import ipaddress
from pathlib import Path

import boto3

ACCOUNT_ID = "123456789012"
ZONES = ("a", "b", "c")
NODE_GROUPS = (
    # name, instance type, size, labels, taints (EKS API spelling)
    ("system", "m5.xlarge", 2, {"role": "system"}, []),
    ("workers", "m5.large", 1, {"role": "workers", "workload": "general"},
     [{"key": "dedicated", "value": "workers", "effect": "NO_SCHEDULE"}]),
)
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
# EKS's AMI account; the AL2023 variants Karpenter's alias looks up (nvidia and neuron are not published here).
EKS_AMI_OWNER = "602401143452"
EKS_AMI_VARIANTS = (("x86_64", "standard"), ("arm64", "standard"))
EKS_TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"%s"},"Action":"sts:AssumeRole"}]}'


def static_node_ip(index: int) -> str:
    """Address of the lab's index-th kwok node (a private subnet's, zone by zone); reserved in moto at seed."""
    return f"10.0.{64 + (index % 3) * 32}.{10 + index}"


def _tags(resource_type: str, **tags: str) -> list[dict]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def seed(cfg: dict) -> dict:
    region, name = cfg["region"], cfg["cluster_name"]
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    endpoint = f"http://127.0.0.1:{cfg['port']}"
    ec2, iam, eks, asg, r53 = (session.client(s, endpoint_url=endpoint) for s in ("ec2", "iam", "eks", "autoscaling", "route53"))

    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=_tags("vpc", Name=f"{name}-vpc"))["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway(TagSpecifications=_tags("internet-gateway", Name=f"{name}-igw"))
    igw_id = igw["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    public_rt = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_tags("route-table", Name=f"{name}-public"))
    public_rt_id = public_rt["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_rt_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)

    public, private = [], []
    for index, zone in enumerate(ZONES):
        az = f"{region}{zone}"
        sub = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{index * 16}.0/20", AvailabilityZone=az,
                                TagSpecifications=_tags("subnet", Name=f"{name}-public-{az}"))["Subnet"]["SubnetId"]
        ec2.associate_route_table(RouteTableId=public_rt_id, SubnetId=sub)
        public.append(sub)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat_id = ec2.create_nat_gateway(SubnetId=public[0], AllocationId=eip)["NatGateway"]["NatGatewayId"]
    for index, zone in enumerate(ZONES):
        az = f"{region}{zone}"
        sub = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{64 + index * 32}.0/19", AvailabilityZone=az,
                                TagSpecifications=_tags("subnet", Name=f"{name}-private-{az}"))["Subnet"]["SubnetId"]
        rt_id = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_tags("route-table", Name=f"{name}-private-{az}"))["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rt_id, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
        ec2.associate_route_table(RouteTableId=rt_id, SubnetId=sub)
        private.append(sub)

    cluster_sg = ec2.create_security_group(
        GroupName=f"eks-cluster-sg-{name}",
        Description="EKS created security group applied to ENI attached to EKS Control Plane master nodes, as well as any managed workloads.",
        VpcId=vpc_id, TagSpecifications=_tags("security-group", **{"Name": f"eks-cluster-sg-{name}", f"kubernetes.io/cluster/{name}": "owned"}))["GroupId"]

    cluster_role = iam.create_role(RoleName=f"{name}-cluster-role", AssumeRolePolicyDocument=EKS_TRUST % "eks.amazonaws.com")["Role"]["Arn"]
    node_role = iam.create_role(RoleName=f"{name}-node-role", AssumeRolePolicyDocument=EKS_TRUST % "ec2.amazonaws.com")["Role"]["Arn"]
    for policy in NODE_POLICIES:
        iam.attach_role_policy(RoleName=f"{name}-node-role", PolicyArn=f"arn:aws:iam::aws:policy/{policy}")

    minor = ".".join(cfg["kube_version"].lstrip("v").split(".")[:2])
    vpc_config = {"subnetIds": public + private, "securityGroupIds": [], "endpointPublicAccess": True, "endpointPrivateAccess": True}
    eks.create_cluster(name=name, version=minor, roleArn=cluster_role, resourcesVpcConfig=vpc_config,
                       tags={"nodeless.eks/lab": "true"})
    eks.create_cluster(name=f"{name}-no-oidc", version=minor, roleArn=cluster_role, resourcesVpcConfig=vpc_config)

    groups = {}
    for group, instance_type, size, labels, taints in NODE_GROUPS:
        ng = eks.create_nodegroup(clusterName=name, nodegroupName=group, nodeRole=node_role, subnets=private,
                                  instanceTypes=[instance_type], labels=labels, taints=taints,
                                  scalingConfig={"minSize": 0, "maxSize": 10, "desiredSize": size},
                                  version=minor)["nodegroup"]
        uuid = ng["nodegroupArn"].rsplit("/", 1)[1]
        asg_name = f"eks-{group}-{uuid}"
        lt = ec2.create_launch_template(LaunchTemplateName=f"eks-{uuid}",
                                        LaunchTemplateData={"InstanceType": instance_type, "ImageId": "ami-12c6146b"})
        asg.create_auto_scaling_group(
            AutoScalingGroupName=asg_name, MinSize=0, MaxSize=10, DesiredCapacity=size,
            LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplate"]["LaunchTemplateId"], "Version": "$Latest"},
            VPCZoneIdentifier=",".join(private),
            Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True} for k, v in {
                "eks:cluster-name": name, "eks:nodegroup-name": group, f"kubernetes.io/cluster/{name}": "owned"}.items()])
        groups[group] = asg_name

    r53.create_hosted_zone(Name=f"{name}.example.com", CallerReference=f"{name}-public")
    r53.create_hosted_zone(Name=f"internal.{name}.example.com", CallerReference=f"{name}-private",
                           VPC={"VPCRegion": region, "VPCId": vpc_id}, HostedZoneConfig={"PrivateZone": True})

    _edit_backend(cfg, vpc_id, cluster_sg, groups)
    amis = _eks_amis(cfg["region"], minor)
    return {"eks_amis": amis, "vpc_id": vpc_id, "public_subnets": public, "private_subnets": private,
            "cluster_security_group": cluster_sg, "asgs": groups}


def _edit_backend(cfg: dict, vpc_id: str, cluster_sg: str, groups: dict) -> None:
    """What moto's API cannot set: the cluster's endpoint, CA, issuer; the node groups' ASG names."""
    from moto.eks.models import eks_backends  # noqa: PLC0415 - only inside the server process

    backend = eks_backends[ACCOUNT_ID][cfg["region"]]
    name = cfg["cluster_name"]
    cluster = backend.clusters[name]
    cluster.endpoint = cfg["endpoint"]
    cluster.certificate_authority = {"data": base64.b64encode(Path(cfg["ca_file"]).read_bytes()).decode()}
    cluster.identity = {"oidc": {"issuer": cfg["issuer"]}}
    cluster.resources_vpc_config = dict(cluster.resources_vpc_config, vpcId=vpc_id, clusterSecurityGroupId=cluster_sg)
    cluster.kubernetes_network_config = {"serviceIpv4Cidr": "10.96.0.0/16", "ipFamily": "ipv4"}
    for group, asg_name in groups.items():
        cluster.nodegroups[group].resources["autoScalingGroups"] = [{"name": asg_name}]
    # The kwok nodes' addresses are taken: an instance moto launches later (Karpenter's) must not get one.
    from moto.ec2.models import ec2_backends  # noqa: PLC0415

    subnets = [s for by_zone in ec2_backends[ACCOUNT_ID][cfg["region"]].subnets.values() for s in by_zone.values()]
    for index in range(sum(size for _group, _type, size, _labels, _taints in NODE_GROUPS)):
        ip = static_node_ip(index)
        next(s for s in subnets if ipaddress.ip_address(ip) in s.cidr).request_ip(ip, None)
    no_oidc = backend.clusters[f"{name}-no-oidc"]
    no_oidc.identity = {}
    no_oidc.endpoint = cfg["endpoint"]
    no_oidc.resources_vpc_config = dict(no_oidc.resources_vpc_config, vpcId=vpc_id, clusterSecurityGroupId=cluster_sg)


def eks_ami_parameter(minor: str, arch: str, variant: str) -> str:
    return f"/aws/service/eks/optimized-ami/{minor}/amazon-linux-2023/{arch}/{variant}/recommended/image_id"


def _eks_amis(region: str, minor: str) -> dict[str, str]:
    """EKS-optimized AL2023 AMIs and their /aws/service/ SSM parameters, written into moto's backend:
    moto's PutParameter refuses names under /aws/, and its RegisterImage drops the architecture, which
    Karpenter filters instance types on. Returns {parameter name: AMI id}."""
    from moto.core.utils import utcnow  # noqa: PLC0415 - only inside the server process
    from moto.ec2.models import ec2_backends  # noqa: PLC0415
    from moto.ec2.models.amis import Ami  # noqa: PLC0415
    from moto.ec2.utils import random_ami_id  # noqa: PLC0415
    from moto.ssm.models import Parameter, ssm_backends  # noqa: PLC0415

    ec2, ssm = ec2_backends[ACCOUNT_ID][region], ssm_backends[ACCOUNT_ID][region]
    out = {}
    for arch, variant in EKS_AMI_VARIANTS:
        ami_id = random_ami_id()
        ec2.amis[ami_id] = Ami(
            ec2, ami_id, name=f"amazon-eks-node-al2023-{arch}-{variant}-{minor}-v20261201",
            description=f"EKS-optimized Kubernetes node based on Amazon Linux 2023, ({arch}, k8s: {minor})",
            owner_id=EKS_AMI_OWNER, owner_alias="amazon", public=True, virtualization_type="hvm", architecture=arch,
            root_device_type="ebs", root_device_name="/dev/xvda", region_name=region, boot_mode="uefi-preferred")
        name = eks_ami_parameter(minor, arch, variant)
        ssm._parameters[name].append(Parameter(  # noqa: SLF001 - the backend's own store
            account_id=ACCOUNT_ID, name=name, value=ami_id, parameter_type="String", description=None,
            allowed_pattern=None, keyid=None, last_modified_date=utcnow(), version=1, data_type="aws:ec2:image"))
        out[name] = ami_id
    return out
