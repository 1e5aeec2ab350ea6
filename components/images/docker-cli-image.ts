/**
 * A dynamic resource that builds an image with the Docker CLI against the local Docker Engine
 * and pushes it to an authenticated registry, returning the pushed manifest digest.
 *
 * The provider is docker-cli-provider.ts (compiled, loaded by path). It exists for machines where
 * the @pulumi/docker provider plugin cannot be installed (the
 * local platform of this repo: the plugin is neither downloadable nor buildable from the Go
 * module proxy there). It is diffed on a hash of the build context, image name and base image,
 * so an unchanged source is never rebuilt or re-pushed. Like @pulumi/docker's Image, deleting
 * the resource leaves the pushed tag in the registry, because pods below the partition may
 * still run it.
 */
import * as pulumi from "@pulumi/pulumi";
import { Inputs, ModuleProviderResource } from "../dynamic";
import type { ProviderInputs } from "./docker-cli-provider";

export type DockerCliImageInputs = Inputs<ProviderInputs>;

export class DockerCliImage extends ModuleProviderResource {
    // `declare`: the base constructor assigns these; a class field would reset them to undefined.
    declare public readonly imageName: pulumi.Output<string>;
    declare public readonly digest: pulumi.Output<string>;
    declare public readonly repoDigest: pulumi.Output<string>;

    constructor(name: string, args: DockerCliImageInputs, opts?: pulumi.CustomResourceOptions) {
        super("images/docker-cli-provider", "sts-canary", "DockerCliImage", name, { ...args, digest: undefined, repoDigest: undefined }, opts);
    }
}
