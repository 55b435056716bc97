"""The nodeless.eks lab: moto's server and a real Kubernetes control plane on loopback.

Nothing here is test logic: the lab only starts, seeds, describes and stops the parts.
"""
